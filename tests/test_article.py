import pytest
import torch
import torch.nn.functional as F

import pglab as pg
from pglab.algos.article import ARTICLE_LOSSES


@pytest.mark.parametrize("name,direction", [("as_written", -1), ("sign_fixed", +1)])
def test_article_loss_sign(name, direction):
    # One gradient-descent step on the loss with a positive reward: the article's printed loss
    # −mean(CE · R) lowers log π of the rewarded token; the fixed one raises it.
    logits = torch.zeros(1, 5, requires_grad=True)
    ce = F.cross_entropy(logits, torch.tensor([2]))
    ARTICLE_LOSSES[name](ce, 1.0).backward()
    after = F.log_softmax(logits.detach() - 0.5 * logits.grad, -1)[0, 2]
    before = F.log_softmax(torch.zeros(5), -1)[2]
    assert direction * (after - before) > 0.05


def test_article_episode_as_written_unlearns_what_the_fixed_loop_learns():
    # Same seeds, one change (the sign): after 150 episodes on dense copy the as-written loop has
    # lowered the probability of the rewarded completions, the fixed one raised it.
    task = pg.make_task("copy", length=2)
    prompts = task.sample_prompts(4, torch.Generator().manual_seed(0))
    fixed = pg.tasks.FixedPrompts(task, prompts)
    result = {}
    for loss in ("as_written", "sign_fixed"):
        policy = pg.make_policy("gru", task, hidden_size=32, embed_size=16, seed=0)
        opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
        gen = torch.Generator().manual_seed(1)
        for i in range(150):
            pg.algos.article.article_episode(policy, opt, fixed, prompts[i % 4:i % 4 + 1], gen, loss=loss)
        result[loss] = pg.exact.objective(policy, fixed, prompts).item()
    start = pg.exact.objective(pg.make_policy("gru", task, hidden_size=32, embed_size=16, seed=0),
                               fixed, prompts).item()
    assert result["as_written"] < start - 0.05 < start + 0.05 < result["sign_fixed"], (start, result)
    with pytest.raises(ValueError, match="unknown loss"):
        pg.algos.article.article_episode(policy, opt, fixed, prompts[:1], gen, loss="minus")
