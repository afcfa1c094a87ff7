#include "core/model/model.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/common/error.h"
#include "core/config/flops.h"
#include "core/model/head_ops.h"
#include "core/model/softmax_rows.h"

namespace gpas {

namespace nn = torch::nn;

TransformerImpl::TransformerImpl(const ModelConfig& c) : cfg(c) {
  if (cfg.vocab_size <= 0) throw Error("model.vocab_size: not set (the data source gives it)");
  const StemSpec stem = stem_spec(cfg);
  embed_tokens = register_module("embed_tokens", nn::Embedding(cfg.vocab_size, cfg.hidden));
  if (stem.embed_scale) embed_scale = register_parameter("embed_scale", torch::full({}, stem.embed_scale_init));
  if (stem.embed_norm.on())
    embed_norm = register_module(stem.embed_norm.name, build_norm(stem.embed_norm, cfg.hidden, cfg.norm_eps));
  auto list = register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < cfg.layers; ++i) {
    blocks.push_back(Block(cfg, i));
    list->push_back(blocks.back());
  }
  if (stem.final_norm.on())
    norm = register_module(stem.final_norm.name, build_norm(stem.final_norm, cfg.hidden, cfg.norm_eps));
  lm_head = register_module("lm_head",
                            nn::Linear(nn::LinearOptions(cfg.hidden, cfg.vocab_size).bias(false)));
  rope = make_rope(cfg.max_positions, cfg.hidden / cfg.heads);
}

torch::Tensor TransformerImpl::forward(const torch::Tensor& tokens) { return lm_head(hidden(tokens)); }

torch::Tensor TransformerImpl::hidden(const torch::Tensor& tokens) {
  TORCH_CHECK(tokens.size(1) <= cfg.max_positions, "sequence longer than model.max_positions");
  if (rope.cos.device() != tokens.device())
    rope = {rope.cos.to(tokens.device()), rope.sin.to(tokens.device())};
  auto x = embed_tokens(tokens);                     // (B, T, C)
  if (embed_scale.defined()) x = embed_scale * x;    // (B, T, C)
  if (!embed_norm.is_empty()) x = embed_norm(x);     // (B, T, C)
  if (probe) last_layer_variance.clear();
  std::vector<int64_t> order;
  for (int64_t i = 0; i < layer_count(); ++i)
    if (i != skip_layer) order.push_back(i);
  torch::Tensor n;  // the norm of x the next layer reads, when a fused op made it (B, T, C)
  for (size_t k = 0; k < order.size(); ++k) {
    Block& b = blocks[order[k]];
    if (fused_norm && b->fusable()) {
      if (!n.defined()) n = b->input_norm()(x);
      Norm next{nullptr};
      if (k + 1 == order.size()) {
        if (!norm.is_empty() && norm->kind() == NormKind::kRms) next = norm;
      }
      else if (blocks[order[k + 1]]->fusable()) next = blocks[order[k + 1]]->input_norm();
      std::tie(x, n) = b->forward_fused(x, n, rope, next);
    } else {
      x = b(x, rope);             // (B, T, C)
      n = torch::Tensor();
    }
    if (probe) last_layer_variance.push_back(x.detach().to(torch::kFloat32).var().item<double>());
  }
  if (n.defined()) return n;
  return norm.is_empty() ? x : norm(x);  // (B, T, C)
}

int64_t TransformerImpl::fused_layer_count() const {
  return std::count_if(blocks.begin(), blocks.end(), [](const Block& b) { return b->fusable(); });
}

torch::Tensor TransformerImpl::loss_sum(const torch::Tensor& logits, const torch::Tensor& targets) {
  auto flat = logits.reshape({-1, logits.size(-1)}).to(torch::kFloat32);  // (B*T, V)
  return torch::nn::functional::cross_entropy(
      flat, targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1).reduction(torch::kSum));
}

namespace {

// Linear + cross-entropy, summed over the rows whose target is >= 0, a chunk of rows at a time.
// The gradient is computed with the loss, chunk by chunk (softmax - one-hot is known once the
// chunk's logits are), so backward only scales what forward kept: dh (N, C) and dW (V, C),
// never the logits. Without a gradient to compute (eval) it computes the loss alone.
struct ChunkedLinearCrossEntropy : torch::autograd::Function<ChunkedLinearCrossEntropy> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor h,
                               torch::Tensor w, torch::Tensor targets, int64_t chunk, bool grad) {
    if (h.is_cpu() && h.scalar_type() == torch::kFloat32 && w.scalar_type() == torch::kFloat32)
      return forward_cpu_fp32(ctx, h, w, targets, chunk, grad);
    const int64_t n = h.size(0);
    auto loss = torch::zeros({}, h.options().dtype(torch::kFloat32));
    torch::Tensor dh, dw;
    if (grad) {
      dh = torch::empty_like(h);
      dw = torch::zeros(w.sizes(), w.options().dtype(torch::kFloat32));
    }
    for (int64_t r = 0; r < n; r += chunk) {
      const int64_t e = std::min(n, r + chunk);
      auto hc = h.slice(0, r, e);                                     // (c, C)
      auto tc = targets.slice(0, r, e);                               // (c)
      auto logits = torch::mm(hc, w.t()).to(torch::kFloat32);        // (c, V)
      auto valid = tc.ge(0);                                          // (c)
      auto safe = tc.clamp_min(0).unsqueeze(1);                       // (c, 1)
      // Every pass over (c, V) counts: one exp, in place; the softmax is its quotient by the
      // sum; the ignored rows are masked in the (c, C) operands, not in g.
      auto top = std::get<0>(logits.max(1, /*keepdim=*/true));       // (c, 1)
      auto picked = logits.gather(1, safe) - top;                     // (c, 1)
      auto ex = logits.sub_(top).exp_();                              // (c, V)
      auto sum = ex.sum(1, /*keepdim=*/true);                         // (c, 1)
      loss += ((sum.log() - picked).squeeze(1) * valid).sum();
      if (!grad) continue;
      auto g = ex.div_(sum);                                          // softmax, (c, V)
      g.scatter_add_(1, safe, -torch::ones_like(picked));             // - one-hot
      auto gw = g.to(w.scalar_type());
      auto keep = valid.unsqueeze(1).to(h.scalar_type());             // (c, 1)
      dh.slice(0, r, e).copy_(torch::mm(gw, w).mul_(keep));           // (c, C)
      auto hk = hc * keep;                                            // (c, C)
      if (hk.scalar_type() == torch::kFloat32 && gw.scalar_type() == torch::kFloat32 && h.is_cpu())
        dw.addmm_(gw.t(), hk);                                        // (V, C), no temporary
      else  // bf16 operands (or autocast on a GPU): their product, accumulated in fp32
        dw.add_(torch::mm(gw.t(), hk).to(torch::kFloat32));
    }
    if (grad) ctx->save_for_backward({dh, dw.to(w.scalar_type())});
    return loss;
  }
  // fp32 on the CPU: the same arithmetic with fewer passes over each chunk's (c, V) logits (amax,
  // not max with its indices; the GEMMs write into and read from one buffer reused by every
  // chunk, and dh's rows in place), and no masking work where no target is ignored.
  static torch::Tensor forward_cpu_fp32(torch::autograd::AutogradContext* ctx, const torch::Tensor& h,
                                        const torch::Tensor& w, const torch::Tensor& targets,
                                        int64_t chunk, bool grad) {
    const int64_t n = h.size(0), v = w.size(0);
    const bool masked = targets.lt(0).any().item<bool>();
    const bool rows_kernel = softmax_xent_rows_available();
    // The head's GEMMs: gpas's own (head_gemm.h) where the CPU and the hidden size allow, W^T
    // packed once for every chunk; else ATen's.
    const HeadGemms gemms(w, head_gemms_own_available(h, w));
    auto buf = torch::empty({std::min(chunk, n), v}, w.options());    // (c, V)
    auto minus_one = torch::full({std::min(chunk, n), 1}, -1.0f, w.options());
    auto row_loss = torch::empty({n, 1}, w.options());                // (N, 1)
    torch::Tensor dh, dw;
    if (grad) {
      dh = torch::empty_like(h);
      dw = torch::empty_like(w);
    }
    for (int64_t r = 0; r < n; r += chunk) {
      const int64_t e = std::min(n, r + chunk), c = e - r;
      auto hc = h.slice(0, r, e);                                     // (c, C)
      auto tc = targets.slice(0, r, e);                               // (c)
      auto safe = (masked ? tc.clamp_min(0) : tc).unsqueeze(1).contiguous();  // (c, 1)
      auto logits = buf.narrow(0, 0, c);                              // (c, V)
      gemms.logits(hc, logits);
      auto rl = row_loss.slice(0, r, e);                              // (c, 1)
      torch::Tensor keep;                                             // (c, 1)
      if (masked) keep = tc.ge(0).unsqueeze(1).to(torch::kFloat32);
      if (rows_kernel) {  // softmax - one-hot over the logits, the rows' losses into rl
        float* lp = logits.data_ptr<float>();
        const int64_t* tp = safe.data_ptr<int64_t>();
        float* op = rl.data_ptr<float>();
        at::parallel_for(0, c, 1, [&](int64_t b, int64_t f) {
          softmax_xent_rows(lp + b * v, f - b, v, tp + b, op + b, grad);
        });
        if (masked) rl.mul_(keep);
        if (!grad) continue;
      } else {
        auto top = logits.amax(1, /*keepdim=*/true);                  // (c, 1)
        auto picked = logits.gather(1, safe);                         // (c, 1)
        logits.sub_(top).exp_();                                      // exp(l - max), (c, V)
        auto sum = logits.sum(1, /*keepdim=*/true);                   // (c, 1)
        at::sub_out(rl, sum.log(), picked.sub_(top));                 // log sum - (l_t - max)
        if (masked) rl.mul_(keep);
        if (!grad) continue;
        logits.mul_(sum.reciprocal_());                               // softmax, (c, V)
        logits.scatter_add_(1, safe, minus_one.narrow(0, 0, c));      // - one-hot
      }
      auto dhc = dh.slice(0, r, e);                                   // (c, C)
      auto hk = masked ? hc * keep : hc;                              // (c, C)
      gemms.dh(logits, dhc);
      gemms.dw(logits, hk, dw, r > 0);                                // (V, C)
      if (masked) dhc.mul_(keep);
    }
    if (grad) ctx->save_for_backward({dh, dw});
    return row_loss.sum();
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    auto go = grad_out[0];
    return {saved[0] * go.to(saved[0].scalar_type()), saved[1] * go.to(saved[1].scalar_type()),
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor TransformerImpl::chunked_loss_sum(const torch::Tensor& h, const torch::Tensor& targets,
                                                int64_t chunk_rows) const {
  // Rows per chunk: about 16M logits (64 MiB in fp32), at least 1. Where the head's weight is
  // small (fp32 on the CPU, at most 1M elements: 4 MiB) about 512K logits, at least 64 rows: each
  // chunk's GEMMs re-read the whole weight, which is cheap only while it stays in cache, and the
  // chunk's logits then stay in cache too. Measured on the 2-core EPYC (tiny, one thread) with
  // OpenBLAS's GEMMs: vocab 8000, 64-128 rows ran 10.0-10.8k tokens/s against 8.7-9.2k whole;
  // vocab 32000, 64 rows 2.4-2.6k against 2.8k whole. With head_gemm.cpp's (2026-12-08, two runs
  // each, noisy): vocab 32000, 32-256 rows 4.8-6.1k against 6.1-6.4k at the default 524; vocab
  // 8000, 32-524 rows 14.1-20.2k against 18.6-19.5k at the default 65: the defaults kept.
  const bool small_head = h.is_cpu() && h.scalar_type() == torch::kFloat32 &&
                          cfg.vocab_size * cfg.hidden <= (int64_t(1) << 20);
  const int64_t chunk =
      chunk_rows > 0    ? chunk_rows
      : small_head ? std::max<int64_t>(64, (int64_t(1) << 19) / cfg.vocab_size)
                   : std::max<int64_t>(1, (int64_t(1) << 24) / cfg.vocab_size);
  auto flat = h.reshape({-1, h.size(-1)});  // (B*T, C)
  // Forward runs with grad mode off: whether a gradient is wanted is decided here.
  const bool grad = torch::GradMode::is_enabled() && (flat.requires_grad() || lm_head->weight.requires_grad());
  return ChunkedLinearCrossEntropy::apply(flat, lm_head->weight, targets.reshape({-1}), chunk, grad);
}

void TransformerImpl::init_weights(uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  const bool deepnorm = scheme_of(cfg.norm).init == InitRule::kDeepNorm &&
                        !(cfg.gpas.enabled && cfg.deepnorm_gpas_init == "normal");
  const double beta = std::pow(8.0 * cfg.layers, -0.25);  // DeepNorm Xavier gain
  embed_tokens->weight.normal_(0.0, cfg.embed_std);
  auto xavier = [](torch::Tensor& w, double gain) {
    double std = gain * std::sqrt(2.0 / double(w.size(0) + w.size(1)));
    w.normal_(0.0, std);
  };
  for (auto& b : blocks) {
    for (auto* lin : {&b->self_attn->q_proj, &b->self_attn->k_proj}) {
      if (deepnorm) xavier((*lin)->weight, 1.0);
      else (*lin)->weight.normal_(0.0, cfg.init_std);
    }
    for (auto* lin : {&b->self_attn->v_proj, &b->self_attn->o_proj, &b->mlp->gate_proj,
                      &b->mlp->up_proj, &b->mlp->down_proj}) {
      if (deepnorm) xavier((*lin)->weight, beta);
      else (*lin)->weight.normal_(0.0, cfg.init_std);
    }
  }
  lm_head->weight.normal_(0.0, cfg.init_std);
}

static std::string export_name(const std::string& name) {
  return name.rfind("lm_head", 0) == 0 ? name : "model." + name;
}

std::vector<std::pair<std::string, torch::Tensor>> TransformerImpl::named_for_export() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : named_parameters(/*recurse=*/true)) out.emplace_back(export_name(p.key()), p.value());
  return out;
}

void TransformerImpl::load_exported(
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  for (auto& p : named_parameters(true)) {
    std::string n = export_name(p.key());
    auto it = by_name.find(n);
    if (it == by_name.end()) throw Error("weights: missing tensor '" + n + "'");
    if (it->second.sizes() != p.value().sizes())
      throw Error("weights: tensor '" + n + "' has shape " + c10::str(it->second.sizes()) +
                  ", the model expects " + c10::str(p.value().sizes()));
    p.value().copy_(it->second);
    by_name.erase(it);
  }
  if (!by_name.empty())
    throw Error("weights: tensor '" + by_name.begin()->first +
                "' does not belong to this model (check model.norm and model.gpas)");
}

std::vector<torch::Tensor> TransformerImpl::gates() const {
  std::vector<torch::Tensor> g;
  for (const auto& b : blocks)
    if (b->gpas_block) g.push_back(b->gpas_block->gate);
  return g;
}

}  // namespace gpas
