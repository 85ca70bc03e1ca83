"""Reading a Coq project's load paths (coq_env.project): the `_CoqProject` governing a file, parsed as coq_makefile
reads it, plus the -R/-Q a caller gives; a malformed line is one clear error naming the file and the line."""
from pathlib import Path

import pytest

from coq_env.project import (
    CoqProject,
    LoadPath,
    ProjectFileError,
    find_project_file,
    load_path_options,
    parse_project_text,
    project_for,
    read_project_file,
)

PROJECT = Path(__file__).parent / "data" / "coq-project"


def write_project(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_CoqProject").write_text(text)
    return folder / "_CoqProject"


def test_the_project_file_governing_a_file_is_the_nearest_one_above_it():
    assert find_project_file(PROJECT / "theories" / "Lemmas.v") == PROJECT / "_CoqProject"
    assert find_project_file(PROJECT / "theories") == PROJECT / "_CoqProject"


def test_a_project_file_in_a_nearer_folder_wins(tmp_path):
    write_project(tmp_path, "-R . Outer\n")
    inner = write_project(tmp_path / "sub", "-R . Inner\n")
    (tmp_path / "sub" / "A.v").write_text("")
    assert find_project_file(tmp_path / "sub" / "A.v") == inner


def test_the_test_project_binds_its_theories_folder_to_foo():
    project = read_project_file(PROJECT / "_CoqProject")
    assert project.root == PROJECT and project.project_file == PROJECT / "_CoqProject"
    assert project.load_paths == (LoadPath("-R", PROJECT / "theories", "Foo"),)
    assert project.extra_args == ("-w", "-notation-overridden")
    assert project.files == (PROJECT / "theories" / "Base.v", PROJECT / "theories" / "Lemmas.v")
    assert project.flags() == ["-R", str(PROJECT / "theories"), "Foo", "-w", "-notation-overridden"]


def test_folders_are_relative_to_the_project_file_and_absolute_ones_stay(tmp_path):
    project = parse_project_text("-Q src/./lib Lib\n-R ../shared Shared\n-I /opt/plugins\n", tmp_path)
    assert project.load_paths == (
        LoadPath("-Q", tmp_path / "src" / "lib", "Lib"),
        LoadPath("-R", tmp_path.parent / "shared", "Shared"),
    )
    assert project.includes == (Path("/opt/plugins"),)


def test_quotes_and_comments_are_read_as_coq_makefile_reads_them(tmp_path):
    text = (
        "# the whole line is a comment: -R nowhere Nothing\n"
        '-R "my theories" My.Lib   # a trailing comment\n'
        "-Q 'other dir' Other\n"
        '"with space.v" plain.v\n'
    )
    project = parse_project_text(text, tmp_path)
    assert project.load_paths == (
        LoadPath("-R", tmp_path / "my theories", "My.Lib"),
        LoadPath("-Q", tmp_path / "other dir", "Other"),
    )
    assert project.files == (tmp_path / "with space.v", tmp_path / "plain.v")


def test_arg_passes_its_option_to_coqc_split_into_words(tmp_path):
    project = parse_project_text('-arg "-w -deprecated-hint-without-locality"\n-arg -noinit\n', tmp_path)
    assert project.extra_args == ("-w", "-deprecated-hint-without-locality", "-noinit")


def test_flags_list_includes_then_load_paths_then_extra_arguments(tmp_path):
    project = parse_project_text("-arg -noinit\n-R a A\n-I ml\n-Q b B\n", tmp_path)
    assert project.flags() == ["-I", str(tmp_path / "ml"), "-R", str(tmp_path / "a"), "A",
                               "-Q", str(tmp_path / "b"), "B", "-noinit"]


def test_options_that_do_not_affect_load_paths_and_makefile_variables_are_skipped(tmp_path):
    project = parse_project_text("-docroot doc\n-native-compiler ondemand\nCOQDOCFLAGS = -utf8\n-R . A\n", tmp_path)
    assert project.load_paths == (LoadPath("-R", tmp_path, "A"),) and project.files == ()


@pytest.mark.parametrize("line, message", [
    ("-R theories", "-R needs a folder and a logical name (-R dir Lib)"),
    ("-Q", "-Q needs a folder and a logical name (-Q dir Lib)"),
    ("-R theories -arg", "-R needs a folder and a logical name"),
    ("-I", "-I needs a folder"),
    ("-arg", "-arg needs the option"),
    ("-unheard-of x", "unknown option -unheard-of"),
    ('-R "theories Foo', "No closing quotation"),
])
def test_a_malformed_line_is_one_error_line_naming_the_file_and_line(tmp_path, line, message):
    project_file = write_project(tmp_path, f"# header\n-R ok Ok\n{line}\nA.v\n")
    with pytest.raises(ProjectFileError) as caught:
        read_project_file(project_file)
    error = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert error.startswith(f"{project_file}:3: ") and message in error and "\n" not in error


def test_a_callers_load_paths_come_after_the_project_files_and_so_win(tmp_path):
    project = project_for(PROJECT / "theories" / "Lemmas.v", ["-Q", "extra", "Foo"], base=tmp_path)
    assert project.load_paths == (
        LoadPath("-R", PROJECT / "theories", "Foo"), LoadPath("-Q", tmp_path / "extra", "Foo"))
    assert project.flags()[3:6] == ["-Q", str(tmp_path / "extra"), "Foo"]


def test_without_a_project_file_only_the_callers_load_paths_count(tmp_path):
    (tmp_path / "A.v").write_text("")
    project = project_for(tmp_path / "A.v", ["-R", ".", "Mine"], base=tmp_path)
    assert project == CoqProject(root=tmp_path, load_paths=(LoadPath("-R", tmp_path, "Mine"),))
    assert project_for(tmp_path / "A.v").flags() == []


def test_a_caller_may_give_only_load_paths(tmp_path):
    with pytest.raises(ProjectFileError, match="only -R and -Q"):
        load_path_options(["-I", "ml"], tmp_path)
    with pytest.raises(ProjectFileError, match="^load-path options: -R needs a folder"):
        load_path_options(["-R", "theories"], tmp_path)
