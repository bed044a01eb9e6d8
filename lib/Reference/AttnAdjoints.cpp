//===- AttnAdjoints.cpp - adjoints of the attn ops in f64 -----------------===//
//
// Each rule recomputes what it needs of the forward (row weights, linear
// numerators) from the recorded operands, in the forward's own loop order,
// and skips exactly the terms the forward skips (masked keys, rows with lse
// -inf), so a gradient that depends on no kept score is exactly 0.
//
//===----------------------------------------------------------------------===//

#include "attn/Reference/AttnAdjoints.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::reference;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

int64_t off3(ArrayRef<int64_t> s, int64_t a, int64_t b, int64_t c) {
  return (a * s[1] + b) * s[2] + c;
}
int64_t off4(ArrayRef<int64_t> s, int64_t a, int64_t b, int64_t c, int64_t d) {
  return ((a * s[1] + b) * s[2] + c) * s[3] + d;
}

/// d(x^p)/dx for an integer exponent p >= 0, defined as 0 when p = 0 (also
/// at x = 0, where pow(x, -1) would be inf).
double powDerivative(double x, int64_t p) {
  return p == 0 ? 0.0 : static_cast<double>(p) * std::pow(x, double(p - 1));
}

/// dS of one row of weights w = weights(kind, s) from dP; `dLse` joins the
/// softmax (d lse / d s_j = w_j). Returns sum_j w_j dP_j (softmax only).
double rowAdjoint(AggregationKind kind, const double *s, const double *w,
                  const double *dP, double dLse, int64_t n, double *dS,
                  double alpha) {
  double delta = 0;
  switch (kind) {
  case AggregationKind::softmax:
    for (int64_t j = 0; j < n; ++j)
      if (w[j] != 0)
        delta += w[j] * dP[j];
    for (int64_t j = 0; j < n; ++j)
      if (w[j] != 0)
        dS[j] += w[j] * (dP[j] - delta + dLse);
    return delta;
  case AggregationKind::sigmoid:
    for (int64_t j = 0; j < n; ++j)
      if (s[j] != -kInf)
        dS[j] += dP[j] * w[j] * (1 - w[j]);
    return 0;
  case AggregationKind::none:
    for (int64_t j = 0; j < n; ++j)
      if (s[j] != -kInf)
        dS[j] += dP[j];
    return 0;
  case AggregationKind::entmax: {
    // g = w^(2-α) on the support: dS = g (dP - Σ g dP / Σ g).
    double num = 0, den = 0;
    std::vector<double> g(n, 0.0);
    for (int64_t j = 0; j < n; ++j)
      if (w[j] > 0) {
        g[j] = std::pow(w[j], 2 - alpha);
        num += g[j] * dP[j];
        den += g[j];
      }
    for (int64_t j = 0; j < n; ++j)
      if (g[j] != 0)
        dS[j] += g[j] * (dP[j] - num / den);
    return 0;
  }
  }
  return 0;
}

/// Whether key j of a row with weights w and scores s takes part in the
/// aggregation (the forward adds exactly these keys' values).
bool keyUsed(AggregationKind kind, double s, double w) {
  return kind == AggregationKind::softmax || kind == AggregationKind::entmax
             ? w != 0
             : s != -kInf;
}

} // namespace

void mlir::attn::reference::scoreAdjoint(const Tensor &q, const Tensor &k,
                                         double scale, ArrayRef<double> dS,
                                         MutableArrayRef<double> dQ,
                                         MutableArrayRef<double> dK) {
  if (dS.empty())
    return;
  int64_t nb = q.shape[0], hq = q.shape[1], sq = q.shape[2], dim = q.shape[3];
  int64_t skv = k.shape[2], group = hq / k.shape[1];
  const double *ds = dS.data();
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i)
        for (int64_t j = 0; j < skv; ++j) {
          double g = scale * *ds++;
          if (g == 0)
            continue;
          int64_t qo = off4(q.shape, b, h, i, 0);
          int64_t ko = off4(k.shape, b, h / group, j, 0);
          for (int64_t d = 0; d < dim; ++d) {
            if (!dQ.empty())
              dQ[qo + d] += g * k.data[ko + d];
            if (!dK.empty())
              dK[ko + d] += g * q.data[qo + d];
          }
        }
}

void mlir::attn::reference::aggregateAdjoint(
    AggregationKind kind, const Tensor &s, const Tensor &v, const Tensor *sinks,
    ArrayRef<double> dO, ArrayRef<double> dLse, MutableArrayRef<double> dS,
    MutableArrayRef<double> dV, MutableArrayRef<double> dSinks, double alpha) {
  int64_t nb = s.shape[0], hq = s.shape[1], sq = s.shape[2], skv = s.shape[3];
  int64_t dv = v.shape[3], group = hq / v.shape[1];
  std::vector<double> w(skv), dP(skv), rowDS(skv);
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        const double *row = s.data.data() + off4(s.shape, b, h, i, 0);
        const double *sink = sinks ? sinks->data.data() + h : nullptr;
        double lse = rowWeights(kind, row, skv, sink, w.data(), alpha);
        // A fully masked row: output 0 and lse -inf whatever the inputs.
        if (kind == AggregationKind::softmax && lse == -kInf)
          continue;
        int64_t r = off3({nb, hq, sq}, b, h, i);
        const double *dOi = dO.empty() ? nullptr : dO.data() + r * dv;
        for (int64_t j = 0; j < skv; ++j) {
          dP[j] = 0;
          if (!dOi || !keyUsed(kind, row[j], w[j]))
            continue;
          int64_t vo = off4(v.shape, b, h / group, j, 0);
          for (int64_t d = 0; d < dv; ++d) {
            dP[j] += dOi[d] * v.data[vo + d];
            if (!dV.empty())
              dV[vo + d] += w[j] * dOi[d];
          }
        }
        double dL =
            kind == AggregationKind::softmax && !dLse.empty() ? dLse[r] : 0.0;
        std::fill(rowDS.begin(), rowDS.end(), 0.0);
        double delta = rowAdjoint(kind, row, w.data(), dP.data(), dL, skv,
                                  rowDS.data(), alpha);
        if (!dS.empty())
          for (int64_t j = 0; j < skv; ++j)
            dS[r * skv + j] += rowDS[j];
        // The sink joins the denominator only: d lse / d sink = P_sink and
        // d P_j / d sink = -P_j P_sink.
        if (sink && kind == AggregationKind::softmax && !dSinks.empty())
          dSinks[h] += std::exp(*sink - lse) * (dL - delta);
      }
}

void mlir::attn::reference::normalizeAdjoint(AggregationKind kind,
                                             const Tensor &s,
                                             ArrayRef<double> dP,
                                             MutableArrayRef<double> dS,
                                             double alpha) {
  int64_t skv = s.shape.back();
  if (dP.empty() || dS.empty() || skv == 0)
    return;
  std::vector<double> w(skv);
  for (int64_t r = 0, rows = s.numElements() / skv; r < rows; ++r) {
    const double *row = s.data.data() + r * skv;
    rowWeights(kind, row, skv, nullptr, w.data(), alpha);
    rowAdjoint(kind, row, w.data(), dP.data() + r * skv, 0.0, skv,
               dS.data() + r * skv, alpha);
  }
}

void mlir::attn::reference::mergeAdjoint(
    ArrayRef<const Tensor *> outs, ArrayRef<const Tensor *> lses,
    const Tensor &o, const Tensor &lse, ArrayRef<double> dO,
    ArrayRef<double> dLse, ArrayRef<MutableArrayRef<double>> dOuts,
    ArrayRef<MutableArrayRef<double>> dLses) {
  int64_t dv = o.shape.back(), rows = lse.numElements();
  for (int64_t r = 0; r < rows; ++r) {
    double total = lse.data[r];
    if (total == -kInf)
      continue; // every partial empty: output 0, nothing flows
    double dL = dLse.empty() ? 0.0 : dLse[r];
    for (size_t p = 0; p < outs.size(); ++p) {
      double l = lses[p]->data[r];
      if (l == -kInf)
        continue; // the partial covers no key and contributes nothing
      // o = sum_p w_p o_p with w_p = exp(l_p - lse): d o / d o_p = w_p,
      // d o / d l_p = w_p (o_p - o), d lse / d l_p = w_p.
      double wp = std::exp(l - total), dot = 0;
      for (int64_t d = 0; d < dv && !dO.empty(); ++d) {
        double g = dO[r * dv + d];
        if (!dOuts[p].empty())
          dOuts[p][r * dv + d] += wp * g;
        dot += g * (outs[p]->data[r * dv + d] - o.data[r * dv + d]);
      }
      if (!dLses[p].empty())
        dLses[p][r] += wp * (dot + dL);
    }
  }
}

void mlir::attn::reference::featureMapAdjoint(FeatureMapKind kind,
                                              const Tensor &x, const Tensor *w,
                                              const Tensor &y,
                                              ArrayRef<double> dY,
                                              MutableArrayRef<double> dX,
                                              MutableArrayRef<double> dW) {
  if (dY.empty())
    return;
  int64_t dim = x.shape.back(), rows = dim ? x.numElements() / dim : 0;
  int64_t f = y.shape.back();
  if (kind == FeatureMapKind::taylor2) {
    // y = [1, x, (x ⊗ x) / sqrt 2]
    double c = 1 / std::sqrt(2.0);
    for (int64_t row = 0; row < rows && !dX.empty(); ++row) {
      const double *in = x.data.data() + row * dim;
      const double *g = dY.data() + row * f;
      for (int64_t a = 0; a < dim; ++a) {
        double acc = g[1 + a];
        for (int64_t b = 0; b < dim; ++b)
          acc +=
              (g[1 + dim + a * dim + b] + g[1 + dim + b * dim + a]) * in[b] * c;
        dX[row * dim + a] += acc;
      }
    }
    return;
  }
  if (kind == FeatureMapKind::random_features) {
    // y_c = exp(p_c - |x|^2 / 2) / sqrt F with p_c = sum_d x_d W_dc.
    for (int64_t row = 0; row < rows; ++row) {
      const double *in = x.data.data() + row * dim;
      double total = 0;
      for (int64_t c = 0; c < f; ++c) {
        double gp = dY[row * f + c] * y.data[row * f + c];
        total += gp;
        for (int64_t d = 0; d < dim; ++d) {
          if (!dX.empty())
            dX[row * dim + d] += gp * w->data[d * f + c];
          if (!dW.empty())
            dW[d * f + c] += gp * in[d];
        }
      }
      for (int64_t d = 0; d < dim && !dX.empty(); ++d)
        dX[row * dim + d] -= total * in[d];
    }
    return;
  }
  if (dX.empty())
    return;
  for (auto [k, v] : llvm::enumerate(x.data)) {
    double slope = 1;
    if (kind == FeatureMapKind::elu_plus_one)
      slope = v > 0 ? 1.0 : std::exp(v);
    else if (kind == FeatureMapKind::relu)
      slope = v > 0 ? 1.0 : 0.0; // the left derivative at the kink
    else if (kind == FeatureMapKind::exp)
      slope = y.data[k];
    else if (kind == FeatureMapKind::sigmoid)
      slope = y.data[k] * (1 - y.data[k]);
    dX[k] += dY[k] * slope;
  }
}

namespace {

/// The part of a linear_aggregate adjoint for one query row (b, h, i):
/// through the keys of this call and through the incoming state.
void linearRowAdjoint(const LinearAggregateOperands &in, const Tensor &o,
                      ArrayRef<double> dO, const LinearAggregateAdjoints &out,
                      int64_t b, int64_t h, int64_t i) {
  const Tensor &q = in.q, &k = in.k, &v = in.v;
  int64_t sq = q.shape[2], f = q.shape[3], skv = k.shape[2];
  int64_t dv = v.shape[3], group = q.shape[1] / k.shape[1];
  int64_t ip = i + (skv - sq), row = off4(o.shape, b, h, i, 0);
  double lam = in.decay ? in.decay->data[h] : 1.0;
  const double *qi = q.data.data() + off4(q.shape, b, h, i, 0);
  auto visible = [&](int64_t j) { return !in.causal || j <= ip; };
  auto weight = [&](int64_t j, double &dot) {
    const double *kj = k.data.data() + off4(k.shape, b, h / group, j, 0);
    dot = 0;
    for (int64_t d = 0; d < f; ++d)
      dot += qi[d] * kj[d];
    return in.decay ? dot * std::pow(lam, double(ip - j)) : dot;
  };
  // out = num / (den + eps) with `normalize`, else num.
  double den = 0, dot;
  for (int64_t j = 0; j < skv && in.normalize; ++j)
    if (visible(j))
      den += weight(j, dot);
  std::vector<double> dNum(dv);
  double dDen = 0;
  for (int64_t e = 0; e < dv; ++e) {
    double g = dO[row + e];
    dNum[e] = in.normalize ? g / (den + in.eps) : g;
    if (in.normalize)
      dDen -= g * o.data[row + e] / (den + in.eps);
  }
  for (int64_t j = 0; j < skv; ++j) {
    if (!visible(j))
      continue;
    double a = weight(j, dot), da = dDen;
    int64_t ko = off4(k.shape, b, h / group, j, 0);
    int64_t vo = off4(v.shape, b, h / group, j, 0);
    for (int64_t e = 0; e < dv; ++e) {
      da += dNum[e] * v.data[vo + e];
      if (!out.dV.empty())
        out.dV[vo + e] += a * dNum[e];
    }
    double lp = in.decay ? std::pow(lam, double(ip - j)) : 1.0;
    for (int64_t d = 0; d < f; ++d) {
      if (!out.dQ.empty())
        out.dQ[off4(q.shape, b, h, i, d)] += da * lp * k.data[ko + d];
      if (!out.dK.empty())
        out.dK[ko + d] += da * lp * qi[d];
    }
    if (in.decay && !out.dDecay.empty())
      out.dDecay[h] += da * dot * powDerivative(lam, ip - j);
  }
  if (!in.state || ip < -1)
    return;
  // The state's term lam^(i'+1) q_i S0 (not part of the denominator).
  const Tensor &st = *in.state;
  double w = in.decay ? std::pow(lam, double(ip + 1)) : 1.0, total = 0;
  for (int64_t d = 0; d < f; ++d)
    for (int64_t e = 0; e < dv; ++e) {
      int64_t so = off4(st.shape, b, h, d, e);
      if (!out.dQ.empty())
        out.dQ[off4(q.shape, b, h, i, d)] += w * dNum[e] * st.data[so];
      if (!out.dState.empty())
        out.dState[so] += w * qi[d] * dNum[e];
      total += dNum[e] * qi[d] * st.data[so];
    }
  if (in.decay && !out.dDecay.empty())
    out.dDecay[h] += total * powDerivative(lam, ip + 1);
}

/// The adjoint through the final state
/// lam^Skv S0 + sum_j lam^(Skv-1-j) k_j^T v_j of head (b, h).
void finalStateAdjoint(const LinearAggregateOperands &in,
                       ArrayRef<double> dFinal,
                       const LinearAggregateAdjoints &out, int64_t b,
                       int64_t h) {
  const Tensor &k = in.k, &v = in.v, &st = *in.state;
  int64_t f = k.shape[3], skv = k.shape[2], dv = v.shape[3];
  int64_t group = in.q.shape[1] / k.shape[1];
  double lam = in.decay ? in.decay->data[h] : 1.0;
  for (int64_t d = 0; d < f; ++d)
    for (int64_t e = 0; e < dv; ++e) {
      int64_t so = off4(st.shape, b, h, d, e);
      double g = dFinal[so];
      if (g == 0)
        continue;
      if (!out.dState.empty())
        out.dState[so] += std::pow(lam, double(skv)) * g;
      double dLam = powDerivative(lam, skv) * st.data[so];
      for (int64_t j = 0; j < skv; ++j) {
        int64_t ko = off4(k.shape, b, h / group, j, d);
        int64_t vo = off4(v.shape, b, h / group, j, e);
        double lp = std::pow(lam, double(skv - 1 - j));
        if (!out.dK.empty())
          out.dK[ko] += g * lp * v.data[vo];
        if (!out.dV.empty())
          out.dV[vo] += g * lp * k.data[ko];
        dLam += powDerivative(lam, skv - 1 - j) * k.data[ko] * v.data[vo];
      }
      if (in.decay && !out.dDecay.empty())
        out.dDecay[h] += g * dLam;
    }
}

} // namespace

void mlir::attn::reference::linearAggregateAdjoint(
    const LinearAggregateOperands &in, const Tensor &o, ArrayRef<double> dO,
    ArrayRef<double> dFinalState, const LinearAggregateAdjoints &out) {
  int64_t nb = in.q.shape[0], hq = in.q.shape[1], sq = in.q.shape[2];
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t h = 0; h < hq; ++h) {
      for (int64_t i = 0; i < sq && !dO.empty(); ++i)
        linearRowAdjoint(in, o, dO, out, b, h, i);
      if (in.state && !dFinalState.empty())
        finalStateAdjoint(in, dFinalState, out, b, h);
    }
}
