"""Token-distribution shift: zero for identical models, positive for a perturbed one, the exact
KL and ranks against a brute-force computation, and the shifted-token bookkeeping."""
import math

import numpy as np
import pytest
import torch

import pandas as pd

from mathtransfer import generation, models, tokens


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
        p_ids = tokenizer(models.chat_prompts(tokenizer, [prompt]), add_special_tokens=False)["input_ids"][0]
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
    # the answer's frame is not logic: a change of format must not count as reasoning
    assert [tokens.word_kind(w) for w in ("Step", "boxed", "Answer", "final")] == ["scaffold"] * 4


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
    case = tokens.case_view(detail, RESPONSES[2], tokenizer)
    assert "".join(case["pieces"]) == RESPONSES[2]
    page = tokens.highlight_html(case)
    assert "<b>" not in page and "&lt;" in page
    assert page.count("<mark") == int((detail["rank_base"] != detail["rank_tuned"]).sum()) > 0


def test_compare_does_not_depend_on_batch_size(model_pair):
    base, perturbed, tokenizer = model_pair
    one = tokens.compare(base, perturbed, tokenizer, PROMPTS, RESPONSES, batch_size=1)
    many = tokens.compare(base, perturbed, tokenizer, PROMPTS, RESPONSES, batch_size=3)
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a["ids"], b["ids"])
        for field in tokens.FIELDS:
            np.testing.assert_allclose(a[field], b[field], rtol=1e-4, atol=1e-5)


# --- the whole analysis over runs (tokens.shift_table) and its condensed tables ---

RESULT_COLUMNS = ["model", "arm", "seed", "task", "group", "kl_paper", "kl_exact", "rank_shift", "share_changed",
                  "tokens", "responses"]
WORD_COLUMNS = ["token", "kind", "shifted", "occurrences", "model", "arm", "seed"]


@pytest.fixture(scope="module")
def items(tiny_data):
    return generation.first_per_task(tiny_data["test"], 2).to_pandas()


def config(**changes):
    from mathtransfer.config import TokensConfig

    # sampled at temperature 1: a random tiny model's greedy answers are empty
    return TokensConfig(**dict(dict(max_new_tokens=8, temperature=1.0, top_p=1.0, batch_size=8), **changes))


def test_shift_table_zero_for_identical_positive_for_perturbed(tiny_model_dir, perturbed_dir, items, tiny_tokenizer):
    from mathtransfer.models import Run

    tokenizer = tiny_tokenizer

    runs = [Run("same-seed0", "sft-think", 0, tiny_model_dir, tiny_model_dir),
            Run("perturbed-seed0", "grpo", 0, perturbed_dir, tiny_model_dir)]
    results, words, cases = tokens.shift_table(runs, items, config(), seed=0)
    assert list(results.columns) == RESULT_COLUMNS and list(words.columns) == WORD_COLUMNS
    assert len(results) == 2 * items.task.nunique() and (results.responses == 2).all()
    assert dict(zip(results.task, results.group)) == dict(zip(items.task, items.group))
    same, moved = results[results.model == "same-seed0"], results[results.model == "perturbed-seed0"]
    assert (same[["kl_paper", "rank_shift", "share_changed"]] == 0).all().all()
    assert (same.kl_exact.abs() < 1e-6).all()
    assert moved.tokens.sum() > 0 and (moved.kl_exact > 0).any() and (moved.share_changed > 0).any()
    # shifted words: none for the identical pair; for the other at most its changed tokens (blank ones are left out)
    assert words[words.model == "same-seed0"].shifted.sum() == 0
    changed = round((moved.share_changed * moved.tokens).sum())
    assert 0 < words[words.model == "perturbed-seed0"].shifted.sum() <= changed
    assert words.groupby("model").occurrences.sum().le(results.groupby("model").tokens.sum()).all()
    # case details: every model's answer to each group's first item
    assert set(cases) == {(run.name, group) for run in runs for group in ("math", "other", "non")}
    for (name, group), case in cases.items():
        n = len(tokenizer(case["response"], add_special_tokens=False)["input_ids"])
        assert len(case["pieces"]) == len(case["rank_base"]) == len(case["rank_tuned"]) == n
        assert case["rank_base"] == case["rank_tuned"] or name != "same-seed0"
    assert any(case["rank_base"] != case["rank_tuned"] for (name, _), case in cases.items() if name != "same-seed0")


def test_every_model_samples_from_the_seed_and_each_base_loads_once(tiny_model_dir, perturbed_dir, items,
                                                                   monkeypatch):
    from mathtransfer.models import Run

    loaded, load = [], tokens.load_model
    monkeypatch.setattr(tokens, "load_model", lambda path, mode: loaded.append(path) or load(path, mode))
    runs = [Run(f"perturbed-seed{s}", "grpo", s, perturbed_dir, tiny_model_dir) for s in (0, 1)]
    sampled = config()
    results, _, cases = tokens.shift_table(runs, items, sampled, seed=5)
    assert loaded == [tiny_model_dir, perturbed_dir, perturbed_dir]
    # the same model twice, each sampling from the same seed: the same answers and numbers
    first, second = (results[results.model == r.name].drop(columns=["model", "seed"]).reset_index(drop=True)
                     for r in runs)
    pd.testing.assert_frame_equal(first, second)
    assert all(cases[(runs[0].name, g)]["response"] == cases[(runs[1].name, g)]["response"] for g in ("math", "non"))
    _, _, other_cases = tokens.shift_table(runs[:1], items, sampled, seed=6)
    assert any(cases[(runs[0].name, g)]["response"] != other_cases[(runs[0].name, g)]["response"]
               for g in ("math", "other", "non"))


def constructed_results():
    """sft-think (seeds 0, 1) above grpo (seed 0) on two of three tasks; an extra pair."""
    rows = []
    values = {"sft-think": [0.5, 0.4, 0.0], "grpo": [0.1, 0.1, 0.1], "extra": [9.0, 9.0, 9.0]}
    for arm, seeds in (("sft-think", (0, 1)), ("grpo", (0,)), ("extra", (-1,))):
        for seed in seeds:
            for task, value in zip(("arith", "kb_chain", "format"), values[arm]):
                rows.append(dict(model=f"{arm}{seed}", arm=arm, seed=seed, task=task, kl_paper=value + seed,
                                 kl_exact=value, rank_shift=value, share_changed=value))
    return pd.DataFrame(rows)


def constructed_words():
    return pd.DataFrame([("So", "logic", 3, 4, "sft-think"), ("7", "content", 1, 5, "sft-think"),
                         ("So", "logic", 2, 2, "sft-think"), ("+", "symbol", 4, 4, "sft-think"),
                         ("7", "content", 2, 2, "grpo"), ("x", "content", 0, 3, "grpo"),
                         ("but", "logic", 0, 1, "grpo")],
                        columns=["token", "kind", "shifted", "occurrences", "arm"])


def test_versus_grpo_and_metrics():
    import json

    results, words = constructed_results(), constructed_words()
    table = tokens.versus_grpo(results)
    assert list(table.index) == ["sft-think", "grpo", "extra"]
    assert table.loc["sft-think", "kl_paper"] == pytest.approx((0.5 + 0.4 + 0.0 + 1.5 + 1.4 + 1.0) / 6)
    assert table.loc["sft-think", "kl_exact_tasks_above_grpo"] == 2
    assert table.loc["sft-think", "kl_paper_tasks_above_grpo"] == 3  # seed 1 adds 1 to kl_paper: 0.5 on format
    assert table[["kl_exact_tasks_above_grpo"]].loc[["grpo", "extra"]].isna().all().all()
    result = tokens.metrics(results, words.assign(model="m"))
    assert json.loads(json.dumps(result)) == result
    assert list(result) == ["sft-think", "grpo", "extra"]
    assert list(result["sft-think"]) == ["kl_paper", "kl_paper_tasks_above_grpo", "kl_exact", "kl_exact_tasks_above_grpo",
                                         "rank_shift", "rank_shift_tasks_above_grpo", "share_changed",
                                         "share_changed_tasks_above_grpo", "share_logic_of_shifted"]
    assert list(result["grpo"]) == ["kl_paper", "kl_exact", "rank_shift", "share_changed", "share_logic_of_shifted"]
    assert result["sft-think"]["share_logic_of_shifted"] == pytest.approx(5 / 10)
    assert result["grpo"]["share_logic_of_shifted"] == 0 and result["extra"]["share_logic_of_shifted"] == 0
    assert result["grpo"]["kl_exact"] == 0.1
    without_grpo = tokens.versus_grpo(results[results.arm != "grpo"])
    assert not any(c.endswith("_tasks_above_grpo") for c in without_grpo)


def test_kind_shares_and_top_tokens():
    words = constructed_words()
    shares = tokens.kind_shares(words)
    assert list(shares.index) == ["sft-think", "grpo"]
    assert shares.loc["sft-think", "shifted_logic"] == 5 and shares.loc["sft-think", "share_symbol"] == 0.4
    assert shares.loc["grpo", "share_content"] == 1
    by_arm = tokens.shifted_by_arm(words)
    assert by_arm[(by_arm.arm == "sft-think") & (by_arm.token == "So")][["shifted", "occurrences"]].values.tolist() == [[5, 6]]
    top = tokens.top_shifted(words, top=1).set_index(["arm", "kind"]).tokens
    assert top[("sft-think", "logic")] == "So (5)" and top[("sft-think", "content")] == "7 (1)"
    assert top[("grpo", "logic")] == "none" and top[("grpo", "content")] == "7 (2)"  # x never shifted


def test_case_studies_show_each_arms_first_seed_escaped():
    from mathtransfer.models import Run

    runs = [Run("sft-think-seed1", "sft-think", 1, "", ""), Run("sft-think-seed2", "sft-think", 2, "", ""),
            Run("grpo-seed2", "grpo", 2, "", ""), Run("mine", "extra", -1, "", "")]
    cases = pd.DataFrame([dict(group="math", task="arith", id="arith-0", prompt="Is 1 < 2?"),
                          dict(group="non", task="format", id="format-0", prompt="Write <b>x</b>.")]).set_index("group")
    view = dict(response="<b>x</b>", pieces=["<b>", "x", "</b>"], rank_base=[0, 3, 1], rank_tuned=[0, 1, 1])
    details = {(run.name, group): view for run in runs for group in cases.index}
    page = tokens.case_studies_html(cases, details, runs)
    assert "<b>x" not in page and "Is 1 &lt; 2?" in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "sft-think-seed2" not in page and page.count("<b>sft-think-seed1</b>") == 2
    assert page.count("<b>grpo-seed2</b>") == 2 and page.count("<b>mine</b>") == 2
    assert page.count("1 of 3 tokens shifted") == 6 and page.count("<mark") == 6
    assert page.index("math &middot; arith") < page.index("non-reasoning &middot; format")


def test_case_items_are_each_groups_first_item(items):
    cases = tokens.case_items(items)
    assert list(cases.index) == ["math", "other", "non"]
    assert list(cases.id) == [items[items.group == g].id.iloc[0] for g in ("math", "other", "non")]


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory):
    """A LoRA adapter on the tiny base whose B matrices are non-zero, so it moves the outputs."""
    model, tok = models.load_model(tiny_model_dir, "lora", lora_r=4, lora_alpha=8)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5)
    path = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def test_an_adapter_run_scores_its_base_with_the_adapter_off(tiny_model_dir, adapter_dir, items, monkeypatch):
    from mathtransfer.models import Run

    base, tok = models.load_model(tiny_model_dir, "full")
    tuned, _ = models.load_model(adapter_dir, "full")
    prompts = list(items["prompt"][:4])
    responses = generation.generate(tuned, tok, prompts, max_new_tokens=6, do_sample=True)
    apart = tokens.compare(base, tuned, tok, prompts, responses)
    together = tokens.compare(None, tuned, tok, prompts, responses)
    for a, b in zip(apart, together):
        assert np.allclose(a["lp_base"], b["lp_base"], atol=1e-5) and np.allclose(a["kl"], b["kl"], atol=1e-5)
    assert any(d["kl"].sum() > 0 for d in together)  # the adapter does move the model
    loaded, load = [], tokens.load_model
    monkeypatch.setattr(tokens, "load_model", lambda path, mode: loaded.append(path) or load(path, mode))
    tokens.shift_table([Run("lora-seed0", "sft-think", 0, adapter_dir, tiny_model_dir)], items, config(), seed=0)
    assert loaded == [adapter_dir]  # the base is never loaded beside it


def test_forward_kl_is_exact_pooled_over_positions_and_zero_for_the_same_model():
    import math

    import torch

    from mathtransfer import generation

    p, q = torch.tensor([[0.5, 0.5], [0.9, 0.1]]), torch.tensor([[0.25, 0.75], [0.9, 0.1]])
    by_hand = (0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75) + 0.0) / 2  # KL(p || q), mean of 2 positions
    assert generation.forward_kl([p.log()], [q.log()]) == pytest.approx(by_hand)
    # pooled over positions, not averaged per response: 2 positions + 1 position, over 3
    one = torch.tensor([[0.5, 0.5]])
    pooled = generation.forward_kl([p.log(), one.log()], [q.log(), one.log()])
    assert pooled == pytest.approx(by_hand * 2 / 3)
    assert generation.forward_kl([p.log()], [p.log()]) == 0.0
    assert math.isnan(generation.forward_kl([torch.zeros(0, 2)], [torch.zeros(0, 2)]))


def test_sampled_kl_reads_the_actual_tokens_and_parameter_distance_is_the_l2_norm():
    import math

    import torch

    from mathtransfer import generation

    p, q = torch.tensor([[0.5, 0.5], [0.9, 0.1]]), torch.tensor([[0.25, 0.75], [0.9, 0.1]])
    # tokens 0 then 1: log(0.5/0.25) + log(0.1/0.1), over 2 positions
    assert generation.sampled_kl([p.log()], [q.log()], [[0, 1]]) == pytest.approx(math.log(2) / 2)
    # token 1 first: log(0.5/0.75) < 0, and the estimate is its absolute value
    assert generation.sampled_kl([p.log()], [q.log()], [[1, 1]]) == pytest.approx(abs(math.log(0.5 / 0.75)) / 2)
    assert generation.sampled_kl([p.log()], [p.log()], [[0, 1]]) == 0.0
    assert math.isnan(generation.sampled_kl([], [], []))

    model = torch.nn.Linear(2, 2, bias=False)
    base = {k: v.detach().clone() for k, v in model.named_parameters()}
    assert generation.parameter_distance(base, model) == 0.0
    with torch.no_grad():
        model.weight[0, 0] += 3.0
        model.weight[1, 1] -= 4.0
    assert generation.parameter_distance(base, model) == pytest.approx(5.0)
