Require Import Reals.
Open Scope R_scope.

Theorem textbook_log_ratio :
  ln 8 / ln 2 = 3.
Proof.
