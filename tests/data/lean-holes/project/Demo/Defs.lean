import Mathlib.Tactic

/-! Definitions the holes of `Demo.Holes` use. -/

namespace Demo

/-- Tripling. -/
def triple (n : ℕ) : ℕ := 3 * n

theorem triple_zero : triple 0 = 0 := rfl

end Demo
