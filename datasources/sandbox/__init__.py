"""The sandbox seed: a deterministic synthetic world of boards, schools, people, partners and agreements."""
