// Attention as an RNN (Aaren), mechanism D6 of docs/language.md: the
// token-by-token update.
//
// The state of the prefix x_1..x_t is the pair (o_t, lse_t): the softmax
// output and the log of its denominator -- (max, numerator, denominator)
// with the numerator already divided out. A new token x_{t+1} = (k, v)
// updates it in constant memory and time, whatever t is:
//   s     = scale q . k                       (one score)
//   lse'  = log(exp(lse_t) + exp(s))
//   o'    = exp(lse_t - lse') o_t + exp(s - lse') v
// which is attention of q over the one new key merged with the state by
// log-sum-exp. The empty prefix is (0, -inf). Chaining this step over a
// sequence gives the rows of aaren.mlir (test/Pipelines/scan-stream.test).
//
// attn ops: linalg.broadcast (q as a one-row query), attn.score,
// attn.aggregate softmax (with lse), attn.merge.
// Compiled form (attn-to-llvm): a one-row decode kernel (attn-tile) and the
// elementwise merge; nothing depends on t. H = 4, D = Dv = 32.

func.func @aaren_step(%q: tensor<1x4x32xf32>, %k: tensor<1x4x1x32xf32>,
                      %v: tensor<1x4x1x32xf32>, %o: tensor<1x4x1x32xf32>,
                      %lse: tensor<1x4x1xf32>)
    -> (tensor<1x4x1x32xf32>, tensor<1x4x1xf32>) {
  %e = tensor.empty() : tensor<1x4x1x32xf32>
  %qb = linalg.broadcast ins(%q : tensor<1x4x32xf32>)
          outs(%e : tensor<1x4x1x32xf32>) dimensions = [2]
  %s = attn.score %qb, %k : tensor<1x4x1x32xf32>, tensor<1x4x1x32xf32>
         -> tensor<1x4x1x1xf32>
  %on, %ln = attn.aggregate softmax %s, %v
               : tensor<1x4x1x1xf32>, tensor<1x4x1x32xf32>
               -> tensor<1x4x1x32xf32>, tensor<1x4x1xf32>
  %o1, %l1 = attn.merge %o, %lse, %on, %ln
               : tensor<1x4x1x32xf32>, tensor<1x4x1xf32>,
                 tensor<1x4x1x32xf32>, tensor<1x4x1xf32>
               -> tensor<1x4x1x32xf32>, tensor<1x4x1xf32>
  return %o1, %l1 : tensor<1x4x1x32xf32>, tensor<1x4x1xf32>
}
