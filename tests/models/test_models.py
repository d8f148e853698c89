"""Model zoo: shapes, gradients, parameter counts, config round-trips, MoE identities and routing."""

from __future__ import annotations

import json

import pytest
import torch

from edgevit import create_model, list_models
from edgevit.errors import ConfigError
from edgevit.models.config import config_from_dict
from edgevit.models.layers.moe import SharedSwiGLUMoE
from edgevit.models.stats import active_params, count_params
from edgevit.registry import create_config, get_model_entry

ALL = list_models()


@pytest.mark.parametrize("name", ALL)
def test_forward_backward_every_model(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=7)
    cfg = model.config
    x = torch.randn(2, 3, cfg.img_size, cfg.img_size)
    y = model(x)
    assert y.shape == (2, 7)
    (y.square().mean() + model.aux_loss()).backward()
    # every parameter that took part got a finite gradient; the head always does
    assert model.head.weight.grad is not None and model.head.weight.grad.abs().sum() > 0
    for n, p in model.named_parameters():
        if p.grad is not None:
            assert torch.isfinite(p.grad).all(), n


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip(name: str) -> None:
    cfg = create_config(name)
    d = json.loads(json.dumps(cfg.to_dict()))
    again = config_from_dict(d)
    assert again == cfg and again.to_dict() == cfg.to_dict()
    assert type(again) is type(cfg)


def test_mlit_xxs_is_067m_for_100_classes() -> None:
    n = count_params(create_model("mmoe_vit_xxs", num_classes=100))
    assert abs(n - 0.67e6) / 0.67e6 <= 0.03, n


def _mlit_formula(dim, depth, h1, h2, heads, kv, classes, tokens, patch=3, experts=(3, 4, 5)) -> int:
    """Independent count: patch conv, cls, pos, blocks (norms, q, kv, proj, router, W_e, V, W2), norm, head."""
    hd = dim // heads
    total = 3 * patch * patch * dim + dim + dim + tokens * dim
    for i in range(depth):
        h = int((depth - 1 - i) / (depth - 1) * (h1 - h2)) + h2
        e = experts[i * len(experts) // depth]
        attn = (dim * dim + dim) + (dim * 2 * kv * hd + 2 * kv * hd) + (dim * dim + dim)
        ffn = 2 * dim * e + e * dim * h + dim * h + h * dim
        total += 4 * dim + attn + ffn
    return total + 2 * dim + dim * classes + classes


@pytest.mark.parametrize("size,spec", [("s", (144, 15, 144, 72, 8, 4)), ("xs", (128, 12, 96, 32, 8, 4)),
                                       ("xxs", (108, 9, 81, 27, 6, 3))])
def test_mlit_param_counts_match_formula(size, spec) -> None:
    model = create_model(f"mmoe_vit_{size}", num_classes=100)
    assert count_params(model) == _mlit_formula(*spec, classes=100, tokens=145)


def test_mlit_alias_and_dense_twins_have_equal_params() -> None:
    assert create_config("mlit_xxs") == create_config("mmoe_vit_xxs")
    for name in ("mmoe_vit_xxs", "mmoe_vit_xs", "mmoe_vit_s"):
        twin = get_model_entry(name).dense_twin
        a, b = count_params(create_model(name)), count_params(create_model(twin))
        assert abs(a - b) / a < 0.01, (name, a, b)
    for name in ("mobile_vmoe_t32", "mobile_vmoe_s32"):
        moe, dense = create_model(name), create_model(get_model_entry(name).dense_twin)
        cfg = moe.config
        extra_out_bias = cfg.moe_layers * (cfg.top_k - 1) * cfg.dim  # each chosen expert has its own fc2 bias
        assert active_params(moe) - count_params(moe.router) - extra_out_bias == count_params(dense)


def test_shared_v_w2_identity() -> None:
    torch.manual_seed(0)
    moe = SharedSwiGLUMoE(dim=24, hidden=16, num_experts=5, top_k=2).eval()
    torch.nn.init.normal_(moe.router.w_gate.weight)
    x = torch.randn(64, 24)
    gates, idx, _ = moe.router(x)
    assert torch.allclose(gates.sum(-1), torch.ones(64))
    assert ((gates > 0).sum(-1) == 2).all()
    torch.testing.assert_close(moe.mix(x, gates), moe.naive(x, gates), atol=1e-5, rtol=1e-5)


def test_noisy_router_deterministic_in_eval_and_noisy_in_training() -> None:
    torch.manual_seed(0)
    model = create_model("mmoe_vit_test")
    for _, m in model.moe_modules():
        torch.nn.init.normal_(m.router.w_gate.weight, std=0.1)
        torch.nn.init.normal_(m.router.w_noise.weight, std=1.0)
    x = torch.randn(4, 3, 16, 16)
    model.eval()
    assert torch.equal(model(x), model(x))
    assert float(model.aux_loss()) == 0.0
    model.train()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    b = model(x)
    assert not torch.equal(a, b)
    assert float(model.aux_loss()) > 0.0


def test_per_image_routing_runs_exactly_k_experts() -> None:
    torch.manual_seed(0)
    model = create_model("mobile_vmoe_test", num_experts=4, top_k=2).eval()
    torch.nn.init.normal_(model.router.proj.weight, std=1.0)
    x = torch.randn(6, 3, 16, 16)
    base = model(x)
    idx = model.router.last_indices
    assert idx.shape == (6, 2) and all(len(set(r.tolist())) == 2 for r in idx)
    experts = model.blocks[-1].ffn
    for e in range(4):
        with torch.no_grad():
            saved = experts.w2[e].clone()
            experts.w2[e] += torch.randn_like(saved)  # perturb expert e only (not a constant: LayerNorm removes those)
            out = model(x)
            experts.w2[e] = saved
        uses_e = (idx == e).any(-1)
        changed = (out - base).abs().amax(-1) > 1e-6
        assert torch.equal(changed, uses_e), f"expert {e}: images changed {changed} vs routed {uses_e}"


def test_expert_usage_is_recorded() -> None:
    model = create_model("mmoe_vit_test").eval()
    model(torch.randn(2, 3, 16, 16))
    usage = model.expert_usage()
    assert len(usage) == 3
    tokens = 2 * model.config.num_tokens
    assert all(sum(c) == tokens * model.config.top_k for c in usage.values())


@pytest.mark.parametrize("family", ["vit_test", "mmoe_vit_test", "mobile_vmoe_test"])
@pytest.mark.parametrize("opts", [dict(attention="performer"), dict(attention="linformer"),
                                  dict(attention="nystrom", nystrom_landmarks=8), dict(stem="conv"),
                                  dict(pos="rope"), dict(attention="performer", pos="rope", stem="conv")])
def test_xformer_options_every_family(family: str, opts: dict) -> None:
    torch.manual_seed(0)
    model = create_model(family, **opts)
    ref = create_model(family)
    x = torch.randn(3, 3, 16, 16)
    assert model(x).shape == ref(x).shape


@pytest.mark.parametrize("attention", ["softmax", "performer", "linformer", "nystrom"])
def test_attention_variant_trains(attention: str) -> None:
    torch.manual_seed(0)
    model = create_model("vit_test", attention=attention, nystrom_landmarks=8, num_classes=4)
    x, y = torch.randn(16, 3, 16, 16), torch.arange(16) % 4
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0], losses


def test_rope_is_a_rotation() -> None:
    from edgevit.models.layers.embeddings import RotaryEmbedding, apply_rope

    rope = RotaryEmbedding(head_dim=8, max_positions=20)
    q = torch.randn(2, 3, 20, 8)
    rq = apply_rope(q, rope(None, 20))
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1))
    assert not torch.allclose(rq[:, :, 1:], q[:, :, 1:])
    torch.testing.assert_close(rq[:, :, 0], q[:, :, 0])  # position 0 (class token) is the identity
    # relative: <R_m q, R_n k> depends on m - n only
    k = torch.randn(8)
    qq = torch.randn(8)
    cos, sin = rope(None, 20)

    def rot(v, p):
        return apply_rope(v[None, None, None], (cos[p], sin[p]))[0, 0, 0]

    assert torch.allclose(rot(qq, 5) @ rot(k, 3), rot(qq, 12) @ rot(k, 10), atol=1e-5)


def test_forward_tokens_with_positions_matches_full_forward() -> None:
    """MAE feeds visible patches with their positions; all positions in order == the plain forward."""
    torch.manual_seed(0)
    for pos in ("learned", "rope"):
        model = create_model("vit_test", pos=pos).eval()
        x = torch.randn(2, 3, 16, 16)
        patches = model.patch_embed(x)
        positions = torch.arange(patches.shape[1]).expand(2, -1)
        torch.testing.assert_close(model.forward_tokens(patches, positions), model.forward_features(x))


def test_bad_names_and_fields_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("mmoe_vit_huge")
    with pytest.raises(ConfigError, match="unknown config field"):
        create_model("vit_test", widht=3)
    with pytest.raises(ConfigError, match="attention"):
        create_model("vit_test", attention="flash")
    with pytest.raises(ConfigError, match="top_k"):
        create_model("mobile_vmoe_test", top_k=9)


@pytest.mark.parametrize("name, field, value, says", [
    ("vit_test", "depth", 0, "depth must be >= 1"), ("vit_test", "patch_size", 0, "patch_size must be >= 1"),
    ("vit_test", "dim", -8, "dim must be >= 1"), ("vit_test", "img_size", -4, "img_size must be >= 1"),
    ("vit_test", "num_kv_heads", -1, "num_kv_heads must be >= 0"),
    ("vit_test", "drop_path_rate", 2.0, "drop_path_rate is a probability"),
    ("vit_test", "mlp_hidden", 0, "mlp_hidden"), ("mmoe_vit_test", "hidden_last", 0, "hidden_last"),
    ("mmoe_vit_test", "aux_loss_weight", -1.0, "aux_loss_weight"),
    ("mobile_vmoe_test", "mlp_hidden", 0, "mlp_hidden"),
    ("mobile_vmoe_test", "superclass_loss_weight", -0.5, "superclass_loss_weight"),
])
def test_sizes_and_rates_out_of_range_are_config_errors(name, field, value, says) -> None:
    """A size below 1 or a rate out of range is refused when the config is made, before any layer divides
    by it or any training step diverges on it."""
    with pytest.raises(ConfigError, match=says):
        create_model(name, **{field: value})


def test_eval_routing_breaks_ties_like_the_export_form() -> None:
    """A zero-initialised router ties every expert: eval picks the lowest indices, as argmax rounds do."""
    model = create_model("mmoe_vit_test").eval()  # routers start at zero
    model(torch.randn(2, 3, 16, 16))
    for _, m in model.moe_modules():
        assert (m.last_indices == torch.arange(model.config.top_k)).all()


def test_performer_approximates_softmax_attention() -> None:
    """FAVOR+ with many features estimates softmax attention; a per-key stabiliser bug would break this."""
    from edgevit.models.layers.attention import Attention

    torch.manual_seed(0)
    soft = Attention(32, 2, kind="softmax")
    perf = Attention(32, 2, kind="performer", performer_features=4096)
    perf.load_state_dict(soft.state_dict(), strict=False)
    x = torch.randn(2, 10, 32) * 0.5
    with torch.no_grad():
        err = (perf(x) - soft(x)).abs().mean() / soft(x).abs().mean()
    assert err < 0.1, float(err)
