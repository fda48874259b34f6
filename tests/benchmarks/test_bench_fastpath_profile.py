"""The fast-path profile runs and its proposed polynomial exp is accurate to the contract's tolerance."""

from __future__ import annotations

from benchmarks.fastpath_profile import profile, to_markdown


def test_profile_reports_every_pass_and_an_accurate_polynomial_exp() -> None:
    res = profile(vocab=3000, repeats=2)
    for key in ("sample_next", "widen_max_pass", "exp_pass_libm_two_exps", "exp_pass_vectorised_polynomial",
                "exponent_histogram_pass", "roofline_np_exp_f32", "sample_next_minor_faults_per_call"):
        assert res[key] >= 0, key
    # the proposal must not break "same token as the reference except within 1e-12 of a boundary"
    assert res["polynomial_exp_max_rel_error"] < 1e-13
    assert "| sample_next |" in to_markdown(res)
