"""Token-distribution shift: zero for identical models, positive for a perturbed one, the exact
KL and ranks against a brute-force computation, and the shifted-token bookkeeping."""
import math

import numpy as np
import pytest
import torch

from mathtransfer import evaluate, tokens


PROMPTS = ["Compute 7+1+2.", "Find x if 2x+1=7.", "Write the word pearl 2 times."]
RESPONSES = ["7+1=8. 8+2=10. Answer: 10", "So x = 3, wait: Answer: 3", "<b>pearl</b> pearl"]


def test_identical_models_give_no_shift(model_pair):
    base, _, tokenizer = model_pair
    details = tokens.compare(base, base, tokenizer, PROMPTS, RESPONSES)
    result = tokens.summary(details)
    assert result["kl_paper"] == 0 and result["rank_shift"] == 0 and result["share_changed"] == 0
    assert result["kl_exact"] == pytest.approx(0, abs=1e-6)
    assert result["tokens"] == sum(len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in RESPONSES)


def test_perturbed_model_shifts(model_pair):
    base, perturbed, tokenizer = model_pair
    result = tokens.summary(tokens.compare(base, perturbed, tokenizer, PROMPTS, RESPONSES))
    assert result["kl_paper"] > 0 and result["kl_exact"] > 0
    assert result["rank_shift"] > 0 and 0 < result["share_changed"] <= 1


def test_against_brute_force(model_pair):
    """Exact KL(tuned || base), ranks and the paper's estimate, recomputed token by token from
    unpadded forwards with explicit sums over the (tiny) vocabulary."""
    base, perturbed, tokenizer = model_pair
    details = tokens.compare(base, perturbed, tokenizer, PROMPTS, RESPONSES, batch_size=2)
    diffs = []
    for prompt, response, detail in zip(PROMPTS, RESPONSES, details):
        p_ids = tokenizer(evaluate.chat_prompts(tokenizer, [prompt]), add_special_tokens=False)["input_ids"][0]
        r_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p_ids + r_ids])
        with torch.no_grad():
            logits_b = base(input_ids=ids).logits[0].double()
            logits_t = perturbed(input_ids=ids).logits[0].double()
        for j, token in enumerate(r_ids):
            pos = len(p_ids) + j - 1
            pb = torch.softmax(logits_b[pos], -1).tolist()
            pt = torch.softmax(logits_t[pos], -1).tolist()
            kl = sum(t * (math.log(t) - math.log(b)) for t, b in zip(pt, pb) if t > 0)
            assert detail["kl"][j] == pytest.approx(kl, rel=1e-3, abs=1e-6)
            assert detail["rank_base"][j] == sum(p > pb[token] for p in pb)
            assert detail["rank_tuned"][j] == sum(p > pt[token] for p in pt)
            assert detail["lp_base"][j] == pytest.approx(math.log(pb[token]), abs=1e-4)
            diffs.append(math.log(pt[token]) - math.log(pb[token]))
    assert tokens.summary(details)["kl_paper"] == pytest.approx(abs(np.mean(diffs)), abs=1e-4)


def test_empty_responses_do_not_crash(model_pair):
    base, perturbed, tokenizer = model_pair
    details = tokens.compare(base, perturbed, tokenizer, ["Compute 1+1."], [""])
    assert len(details[0]["ids"]) == 0
    result = tokens.summary(details)
    assert result["tokens"] == 0 and math.isnan(result["kl_exact"])


def test_word_kinds():
    assert tokens.word_kind("Wait") == "logic" and tokens.word_kind("so") == "logic"
    assert tokens.word_kind("pearl") == "content" and tokens.word_kind("7") == "content"
    assert tokens.word_kind("+") == "symbol"


def test_shifted_words_count_rank_changes(tiny_tokenizer):
    ids = tiny_tokenizer("So 7 so", add_special_tokens=False)["input_ids"]
    n = len(ids)
    detail = dict(ids=np.array(ids), rank_base=np.arange(n), rank_tuned=np.r_[np.arange(n - 1), 99])
    table = tokens.shifted_words([detail], tiny_tokenizer)
    assert table["occurrences"].sum() == sum(1 for i in ids if tiny_tokenizer.decode([i]).strip())
    assert table["shifted"].sum() == 1
    assert table.iloc[0]["shifted"] == 1


def test_highlight_escapes_model_text(model_pair):
    base, perturbed, tokenizer = model_pair
    detail = tokens.compare(base, perturbed, tokenizer, PROMPTS[2:], RESPONSES[2:])[0]
    page = tokens.highlight_html(detail, tokenizer)
    assert "<b>" not in page and "&lt;" in page
    assert page.count("<mark") == int((detail["rank_base"] != detail["rank_tuned"]).sum())
