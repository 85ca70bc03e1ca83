"""Statement shapes: a benchmark problem renamed or rebound is the same problem, and the curriculum never draws one."""
from coq_env.competition import load_competition
from coq_env.curriculum import draw_family
from coq_env.statement_shapes import benchmark_shapes, statement_shape

ADDITIVE = ("Theorem textbook_fun_additive_value :\n  forall f : R -> R,\n  (forall x y, f (x + y) = f x + f y) ->\n"
            "  f 1 = 3 ->\n  f 5 = 15.")


def test_names_binder_style_inner_types_and_scopes_do_not_change_a_shape_and_numbers_do():
    renamed = ("Theorem copy\n  (g : R -> R)\n  (h0 : forall u t : R, g (u + t) = g u + g t)\n  (h1 : g 1 = 3) :\n"
               "  g 5 = 15.")
    assert statement_shape(renamed) == statement_shape(ADDITIVE)
    assert statement_shape(renamed.replace("g 5 = 15", "g 6 = 18")) != statement_shape(ADDITIVE)
    sequence = "Theorem s1 (s : nat -> R) (h0 : forall n : nat, s (S (S n)) = s (S n) + s n) (h1 : s 9%nat = 110) :\n  s 4%nat = 10."
    rebound = "Theorem s2 :\n  forall (a : nat -> R),\n  (forall k, a (S (S k)) = a (S k) + a k) ->\n  a 9 = 110 ->\n  a 4 = 10."
    assert statement_shape(sequence) == statement_shape(rebound)
    # the order of hypotheses is part of the shape; a constant's name is not renamed
    assert statement_shape("Theorem a (x : R) : sqrt x = x.") != statement_shape("Theorem b (x : R) : exp x = x.")


def test_every_shipped_benchmark_problem_has_its_shape_in_the_set():
    assert statement_shape(ADDITIVE) in benchmark_shapes()
    assert all(statement_shape(t.statement) in benchmark_shapes() for t in load_competition("all"))


def test_the_curriculum_skips_a_draw_that_is_a_benchmark_problem_renamed():
    # seed 5 of functional_equation drew competition-rocq's odd periodic function (`f 1 = 0`) twice before the guard
    drawn = draw_family("functional_equation", 40, 5)
    assert len(drawn) == 40
    assert not any(statement_shape(t.statement) in benchmark_shapes() for t in drawn)
