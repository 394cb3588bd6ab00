"""The source article's REINFORCE loop, ported faithfully — kept to measure its mistakes.

What the article does (its §5.1), step by step, for one episode:

1. re-run the policy on the whole prefix to get the next-token logits (no cache);
2. sample a token, receive the reward r_t of that step;
3. add it to a running ``total_reward`` — the reward accumulated *so far*;
4. take an optimizer step on  −mean(CE · total_reward)  immediately, where
   CE = sparse_softmax_cross_entropy = −log π(a_t|s_t);
5. append the token and continue, until EOS or the horizon.

Three things are wrong with it; chapter 03 measures the first two (each as a
one-change comparison) and describes the third:

* the sign: with S_t = Σ_{k≤t} r_k the reward so far, −mean(CE · S_t) =
  −(−log π) · S_t = +log π · S_t, so minimising it *lowers* the log-probability
  of every token sampled from the first rewarded one on — it steps along minus
  the (biased) estimate below, which lowers J wherever that estimate points
  uphill. It is the classic student bug (the cross-entropy already carries the
  minus sign). ``loss="as_written"`` keeps it; ``loss="sign_fixed"`` minimises
  −log π · S_t as intended;
* the weight of step t is S_t (the past), not G_t = Σ_{k≥t} r_k (the future):
  the past rewards Σ_{k<t} r_k are fixed by s_t and only add variance, r_t is
  in both, and the missing future rewards Σ_{k>t} r_k carry all of the bias —
  exactly, E[estimate] = E[Σ_t r_t ∇log π(a_t|s_t)];
* θ changes after every token, so later tokens of the episode are sampled from
  a different policy than earlier ones, with a batch of one: slow and noisy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import checks
from ..vocab import EOS_ID, PAD_ID

ARTICLE_LOSSES = {
    "as_written": lambda ce, weight: -(ce * weight),      # −mean(CE · R) with CE = −log π: +log π · R
    "sign_fixed": lambda ce, weight: ce * weight,          # CE · R = −log π · R: ascends the reward
}
"""The article's per-token loss, as printed and with its sign fixed: ``fn(CE, weight) -> loss``."""


def article_episode(policy, optimizer: torch.optim.Optimizer, task, prompt_ids: torch.Tensor,
                    generator: torch.Generator, loss: str = "as_written") -> dict[str, float]:
    """Run one episode of the article's loop on one prompt (1, P); returns its stats.

    ``loss`` picks the sign: "as_written" (the article's, which descends the reward) or "sign_fixed".
    """
    loss_fn = ARTICLE_LOSSES[checks.choice("loss", loss, list(ARTICLE_LOSSES))]
    state = prompt_ids.to(policy.device)                         # (1, P) the growing prefix
    completion: list[int] = []
    total_reward, n_tokens = 0.0, 0
    for t in range(task.max_new_tokens):
        with torch.no_grad():
            probs = F.softmax(policy(state)[:, -1], -1)          # (1, V) full prefix, every step
        action = int(torch.multinomial(probs.cpu(), 1, generator=generator))
        completion.append(action)
        done = action == EOS_ID or t + 1 == task.max_new_tokens
        total_reward += _step_reward(task, prompt_ids, completion, done)   # reward accumulated so far
        ce = F.cross_entropy(policy(state)[:, -1], torch.tensor([action], device=state.device))  # −log π(a_t|s_t)
        step_loss = loss_fn(ce, total_reward)                    # weight: the past, not the future
        optimizer.zero_grad(set_to_none=True)
        step_loss.backward()
        optimizer.step()                                         # θ changes mid-episode
        state = torch.cat([state, torch.tensor([[action]], device=state.device)], 1)
        n_tokens += 1
        if done:
            break
    return {"reward/mean": total_reward, "len/mean": float(n_tokens)}


def _step_reward(task, prompt_ids: torch.Tensor, completion: list[int], done: bool) -> float:
    """r_t of the newest token, as an environment would hand it out.

    Tasks with per-token rewards (``task.per_token``) pay each token as it comes;
    for sequence-level rewards r_t is 0 until the episode ends.
    """
    n, T = len(completion), task.max_new_tokens
    ids = torch.full((1, T), PAD_ID)
    ids[0, :n] = torch.tensor(completion)
    mask = (torch.arange(T) < n).float()[None]
    rewards = task.reward(prompt_ids.cpu(), ids, mask)[0]
    if getattr(task, "per_token", False):
        return float(rewards[n - 1])
    return float(rewards.sum()) if done else 0.0
