"""The chapters' sliders: each move re-measures at the chosen setting."""
import pglab as pg
from pglab.lab.widgets import gae_explorer, measure_gae


def test_gae_explorer_remeasures_when_a_slider_moves():
    problem = pg.exact.tiny_problem()
    box = gae_explorer(problem, n_batches=20)
    (gamma, lam), _, table = box.children[0].children, box.children[1], box.children[2]
    assert table.value.count("<tr>") == 2                  # header + the initial setting
    lam.value = 0.0
    assert table.value.count("<tr>") == 3 and "<td>0.00</td>" in table.value
    r0, r1 = measure_gae(problem, 1.0, 0.0, n_batches=20), measure_gae(problem, 1.0, 1.0, n_batches=20)
    assert r0.variance != r1.variance                      # λ reaches the estimator
