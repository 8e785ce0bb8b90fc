"""The ONNX graph of an Elman network, node by node (for :mod:`elman.onnx`).

A :class:`Graph` collects nodes and constants under unique names. Each recurrent layer
becomes the native ONNX ``RNN`` operator (:func:`rnn_layer`) or a ``Scan`` over the
state update written with ordinary operators (:func:`scan_layer`); :func:`readout` ends
the graph. Every activation has one formula in ordinary operators (:data:`FORMULAS`),
the same as :mod:`elman.activations` computes, used in Scan bodies and in the readout.
The weight mapping (where the transposes go) is documented in :mod:`elman.onnx`.
"""

from __future__ import annotations

import math

import numpy as np

from .activations import C_CONSTANTS

# The RNN operator's own activations that onnxruntime computes as Keras does (checked
# on -100..100 against elman.activations): name -> (operator activation, alpha, beta).
# Its float32 kernel only: onnxruntime has no float64 RNN kernel. Not here: softplus
# (onnxruntime's RNN computes log(1 + exp(x)), inf above x = 88.7 and NaN in every
# later step) and the activations the operator lacks (selu, exponential, silu, gelu,
# relu6): those layers are a Scan.
NATIVE = {
    "tanh": ("Tanh", None, None),
    "relu": ("Relu", None, None),
    "sigmoid": ("Sigmoid", None, None),
    "linear": ("Affine", 1.0, 0.0),  # alpha x + beta
    "hard_sigmoid": ("HardSigmoid", 1.0 / 6.0, 0.5),  # clip(x / 6 + 1/2, 0, 1) = relu6(x + 3) / 6
    "softsign": ("Softsign", None, None),
    "elu": ("Elu", 1.0, None),
    "leaky_relu": ("LeakyRelu", C_CONSTANTS["ELMAN_LEAKY_SLOPE"], None),
}

# erf from its series of positive terms needs 100 terms for double precision up to
# |t| = 6; beyond, erf(t) = +-1 to double precision (erfc(6) = 2e-17).
ERF_TERMS, ERF_CLIP = 100, 6.0


class Graph:
    """Nodes and constants of one ONNX graph. A Scan body (``parent`` given) keeps its
    own nodes; its constants go to the outer graph's initializers, which it may read."""

    def __init__(self, onnx, dtype, parent: "Graph | None" = None):
        self.onnx, self.dtype = onnx, np.dtype(dtype)
        self.nodes: list = []
        self.root = self if parent is None else parent.root
        if parent is None:
            self.initializers: list = []
            self.count = 0
            self.cache: dict = {}

    @property
    def elem(self) -> int:
        """The ONNX element type of the model's floats."""
        return self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)

    def name(self, hint: str) -> str:
        self.root.count += 1
        return f"{hint}_{self.root.count}"

    def const(self, value, name: str | None = None, dtype=None) -> str:
        """An initializer holding ``value`` (in the model's dtype unless ``dtype``); an
        unnamed constant is made once and shared."""
        arr = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        root = self.root
        if name is None:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in root.cache:
                return root.cache[key]
            name = root.cache[key] = self.name("c")
        root.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), dtype=np.int64)

    def op(self, op_type: str, *inputs: str, n_out: int = 1, **attrs):
        """Add a node; its output name (a list of names when ``n_out`` > 1)."""
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def value(self, name: str, shape) -> object:
        return self.onnx.helper.make_tensor_value_info(name, self.elem, shape)


# --------------------------------------------------------------------------- activations


def _positive_or(g: Graph, x: str, neg: str) -> str:
    """x where x > 0, else ``neg`` (the two-branch activations, branch for branch)."""
    return g.op("Where", g.op("Greater", x, g.const(0)), x, neg)


def _exp_minus_one(g: Graph, x: str) -> str:
    """exp(min(x, 0)) - 1, the negative branch of elu and selu; min keeps the unused
    branch from overflowing."""
    return g.op("Sub", g.op("Exp", g.op("Min", x, g.const(0))), g.const(1))


def _erf_series(g: Graph, t: str) -> str:
    """erf(t) = 2/sqrt(pi) exp(-t^2) sum_n 2^n t^(2n+1) / (2n+1)!!  (Abramowitz and
    Stegun 7.1.6), for float64, where onnxruntime has no Erf kernel. Every term has
    the sign of t, so the sum has no cancellation. Beyond |t| = 6 erf is exactly
    sign(t), so that 1 + erf(t) is 0 (not an ulp) there, as erfc(6) is."""
    n = np.arange(ERF_TERMS)
    coef = [2**k / math.prod(range(1, 2 * k + 2, 2)) for k in range(ERF_TERMS)]  # exact ints, one rounding
    tc = g.op("Clip", t, g.const(-ERF_CLIP), g.const(ERF_CLIP))
    t2 = g.op("Mul", tc, tc)
    powers = g.op("Pow", g.op("Unsqueeze", t2, g.ints(-1)), g.const(n))  # (..., terms)
    total = g.op("ReduceSum", g.op("Mul", powers, g.const(coef)), g.ints(-1), keepdims=0)
    scaled = g.op("Mul", g.op("Mul", tc, total), g.op("Exp", g.op("Neg", t2)))
    series = g.op("Mul", scaled, g.const(2 / math.sqrt(math.pi)))
    return g.op("Where", g.op("Less", g.op("Abs", t), g.const(ERF_CLIP)), series, g.op("Sign", t))


def _gelu(g: Graph, x: str) -> str:
    """0.5 x (1 + erf(x / sqrt 2)), the exact gelu: Erf in float32, the series in float64."""
    t = g.op("Mul", x, g.const(C_CONSTANTS["ELMAN_INV_SQRT2"]))
    erf = g.op("Erf", t) if g.dtype == np.float32 else _erf_series(g, t)
    return g.op("Mul", g.op("Mul", x, g.const(0.5)), g.op("Add", g.const(1), erf))


def _softplus(g: Graph, x: str) -> str:
    """max(x, 0) + log(1 + exp(-|x|)), as np.logaddexp(0, x): never overflows."""
    tail = g.op("Log", g.op("Add", g.const(1), g.op("Exp", g.op("Neg", g.op("Abs", x)))))
    return g.op("Add", g.op("Relu", x), tail)


def _selu(g: Graph, x: str) -> str:
    neg = g.op("Mul", g.const(C_CONSTANTS["ELMAN_SELU_ALPHA"]), _exp_minus_one(g, x))
    return g.op("Mul", g.const(C_CONSTANTS["ELMAN_SELU_SCALE"]), _positive_or(g, x, neg))


#: Every elman activation in ordinary ONNX operators that onnxruntime has for float32
#: and float64 (its Elu, Selu, Softplus, ... are float-only, their constants float32).
FORMULAS = {
    "linear": lambda g, x: g.op("Identity", x),
    "tanh": lambda g, x: g.op("Tanh", x),
    "relu": lambda g, x: g.op("Relu", x),
    "sigmoid": lambda g, x: g.op("Sigmoid", x),
    "hard_sigmoid": lambda g, x: g.op("Div", g.op("Clip", g.op("Add", x, g.const(3)), g.const(0), g.const(6)),
                                      g.const(6)),
    "softplus": _softplus,
    "softsign": lambda g, x: g.op("Div", x, g.op("Add", g.const(1), g.op("Abs", x))),
    "elu": lambda g, x: _positive_or(g, x, _exp_minus_one(g, x)),
    "selu": _selu,
    "exponential": lambda g, x: g.op("Exp", x),
    "silu": lambda g, x: g.op("Mul", x, g.op("Sigmoid", x)),
    "gelu": _gelu,
    "relu6": lambda g, x: g.op("Clip", x, g.const(0), g.const(6)),
    "leaky_relu": lambda g, x: _positive_or(g, x, g.op("Mul", x, g.const(C_CONSTANTS["ELMAN_LEAKY_SLOPE"]))),
}


def form(activation: str, dtype) -> str:
    """"rnn" (the native RNN operator) or "scan" (the fallback) for a layer."""
    return "rnn" if np.dtype(dtype) == np.float32 and activation in NATIVE else "scan"


# --------------------------------------------------------------------------- layers


def rnn_layer(g: Graph, X: str, layer, j: int, z0: str, need_seq: bool):
    """The native RNN operator, H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb).

    X (T, N, D) time-major, z0 (N, M). Returns (Z (T, N, M) in step order or None,
    z_T (N, M)).
    """
    M = layer.state_dim
    op, alpha, beta = NATIVE[layer.activation]
    W = g.const(layer.B[None], f"W_{j}")  # (1, M, D)
    R = g.const(layer.A[None], f"R_{j}")  # (1, M, M)
    # The operator adds two biases, Wb (input) and Rb (recurrent); b goes in Wb and
    # Rb is zero, so b is added once, as in z_{k+1} = s(A z_k + B u_k + b).
    bias = g.const(np.concatenate([layer.b, np.zeros(M, g.dtype)])[None], f"B_{j}")  # (1, 2M)
    attrs = {"hidden_size": M, "activations": [op], "direction": "reverse" if layer.go_backwards else "forward"}
    if alpha is not None:
        attrs["activation_alpha"] = [alpha]
    if beta is not None:
        attrs["activation_beta"] = [beta]
    h0 = g.op("Unsqueeze", z0, g.ints(0))  # (1, N, M): one direction
    Y, Y_h = g.op("RNN", X, W, R, bias, "", h0, n_out=2, **attrs)
    zT = g.op("Squeeze", Y_h, g.ints(0))
    if not need_seq:
        return None, zT
    Z = g.op("Squeeze", Y, g.ints(1))  # (T, 1, N, M) -> (T, N, M)
    if layer.go_backwards:
        # "reverse" aligns Y[t] with input t; Keras (and elman) emit the states in the
        # order they were computed, out[k] = Y[T-1-k]: reverse the time axis.
        Z = g.op("Slice", Z, g.ints(-1), g.ints(-(2**63)), g.ints(0), g.ints(-1))
    return Z, zT


def scan_layer(g: Graph, X: str, layer, j: int, z0: str):
    """A Scan over z_{k+1} = s(z_k A^T + x_k B^T + b) (rows: one sample each).

    X (T, N, D) time-major, z0 (N, M). A go_backwards layer scans X from the end and
    emits the states in the order it computed them, as Keras does. Returns
    (Z (T, N, M) in step order, z_T (N, M)).
    """
    D, M = layer.input_dim, layer.state_dim
    BT, AT, b = g.const(layer.B.T, f"BT_{j}"), g.const(layer.A.T, f"AT_{j}"), g.const(layer.b, f"b_{j}")
    body = Graph(g.onnx, g.dtype, parent=g)
    z, x = body.name("z"), body.name("x")
    # ((x B^T) + b) + z A^T: elman's (and Keras's) order of the sums.
    h = body.op("Add", body.op("Add", body.op("MatMul", x, BT), b), body.op("MatMul", z, AT))
    z_next = FORMULAS[layer.activation](body, h)
    z_out = body.op("Identity", z_next)  # the same state, once as the carried state, once scanned out
    step = g.onnx.helper.make_graph(
        body.nodes, f"layer{j}_step", [body.value(z, [None, M]), body.value(x, [None, D])],
        [body.value(z_next, [None, M]), body.value(z_out, [None, M])],
    )
    zT, Z = g.op("Scan", z0, X, n_out=2, body=step, num_scan_inputs=1,
                 scan_input_directions=[int(layer.go_backwards)])
    return Z, zT


def initial_state(g: Graph, U: str, j: int, M: int) -> tuple[object, str]:
    """Graph input ``z0_j``, overridable, default zeros (1, M); broadcast to (N, M)."""
    name = f"z0_{j}"
    g.const(np.zeros((1, M)), name)
    N = g.op("Slice", g.op("Shape", U), g.ints(0), g.ints(1))  # [N]
    return g.value(name, [None, M]), g.op("Expand", name, g.op("Concat", N, g.ints(M), axis=0))


def readout(g: Graph, Z: str, C, d, activation: str) -> str:
    """y = g(z C^T + d) over the last axis of Z; y = g(z) without a readout (C None)."""
    if C is not None:
        Z = g.op("Add", g.op("MatMul", Z, g.const(C.T, "CT")), g.const(d, "d"))  # C^T (M, K)
    return FORMULAS[activation](g, Z)


def build(onnx, rnn, layers, dtype):
    """The graph of ``rnn`` (its recurrent ``layers``, then the readout): returns
    (GraphProto, the form of each layer)."""
    g = Graph(onnx, dtype)
    X = g.op("Transpose", "U", perm=[1, 0, 2])  # (N, T, D) -> (T, N, D), once
    inputs, forms, L = [g.value("U", ["N", "T", rnn.input_dim])], [], len(layers)
    for j, layer in enumerate(layers, start=1):
        z0_value, z0 = initial_state(g, "U", j, layer.state_dim)
        inputs.append(z0_value)
        need_seq = j < L or rnn.return_sequences
        forms.append(form(layer.activation, dtype))
        if forms[-1] == "rnn":
            Z, zT = rnn_layer(g, X, layer, j, z0, need_seq)
        else:
            Z, zT = scan_layer(g, X, layer, j, z0)
        X = Z  # the next layer reads this layer's states, in step order
    top = g.op("Transpose", X, perm=[1, 0, 2]) if rnn.return_sequences else zT
    y = readout(g, top, rnn.C, rnn.d, rnn.output_activation)
    g.nodes.append(onnx.helper.make_node("Identity", [y], ["Y"]))
    shape = ["N", "T", rnn.output_dim] if rnn.return_sequences else ["N", rnn.output_dim]
    graph = onnx.helper.make_graph(g.nodes, "elman", inputs, [g.value("Y", shape)], initializer=g.initializers)
    return graph, forms
