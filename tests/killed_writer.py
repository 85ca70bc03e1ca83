"""A writer to kill at its rename: the preamble of the scripts the tests run in a child process and SIGKILL, to show
that a writer killed at any moment leaves the old file or the whole new one. The child's one argument is a JSON list
ending in the marker file's path and the moment ("before" or "after" the rename); the script's own code follows."""

# os.replace wrapped: the marker file says the writer reached the rename (before or after it), then the writer sleeps
# there until the test kills it.
RENAME_THEN_WAIT = """
import json, os, pathlib, sys, time
ARGS = json.loads(sys.argv[1])
_marker, _moment = ARGS[-2:]
_rename = os.replace
def _replace_then_wait(src, dst):
    if _moment == "after":
        _rename(src, dst)
    pathlib.Path(_marker).write_text(_moment)
    time.sleep(600)
os.replace = _replace_then_wait
"""
