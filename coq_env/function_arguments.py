"""Equal arguments as automation for Rocq: one sentence that, for a function variable `f`, adds `f a = f b` wherever
lra or lia proves `a = b` for two of its arguments in the goal and the hypotheses, then closes the goal with lra or
lia, or fails.

Why: lra and lia treat `f (1 + 1)` and `f 2` as two unknowns. A functional equation is proved by instances chosen by
hand, `pose proof (h 1 1)` giving `f (1 + 1) = f 1 + f 1`, and each instance then needs its argument rewritten to
the number the goal names; that bookkeeping is routine but costs the model a step per instance. With this sentence
the model chooses the instances, and the arithmetic after them is automation's.

Only the pairs that can carry information are tried: a number against a computed argument or a variable, and a
variable against a computed argument (never two numbers, two variables or two computed arguments). A number is a
closed term headed by a constructor (`Zpos _`, `S _`) or a constant applied to one (`IZR (Zpos _)`), so the
sentence names no library and runs under any header, Arith alone included.
"""
from __future__ import annotations

EQUAL_ARGUMENTS = (
    "intros; "
    "let closed t := tryif (match t with context[?v] => is_var v end) then fail else idtac in "
    "let constructed t := first [is_constructor t | match t with ?h _ => is_constructor h end] in "
    "let number t := closed t; first [constructed t | match t with ?h ?z => is_const h; constructed z end] in "
    # The direction `a` to `b` rewrites toward a number, else toward a variable.
    "let towards a b := tryif number a then fail else "
    "tryif number b then idtac else (is_var b; tryif is_var a then fail else idtac) in "
    "let equal_dir f a b := towards a b; lazymatch goal with _ : f a = f b |- _ => fail | _ => idtac end; "
    "assert (f a = f b) by (apply f_equal; solve [lra | lia]) in "
    "let equal f a b := first [equal_dir f a b | equal_dir f b a] in "
    # `progress`: with no such pair, the lra and lia the automation runs anyway are not run again.
    "progress repeat match goal with "
    "| _ : context[?f ?a] |- _ => is_var f; match goal with "
    "| _ : context[f ?b] |- _ => equal f a b | |- context[f ?b] => equal f a b end "
    "| |- context[?f ?a] => is_var f; match goal with |- context[f ?b] => equal f a b end "
    "end; solve [lra | lia]"
)
EQUAL_ARGUMENT_TACTICS = [EQUAL_ARGUMENTS]
# Seconds one run may take: the pairs grow with the square of a function's applications. The backend does not run it
# again on a theorem once it ran out of time there.
TIMEOUT = 2.0
