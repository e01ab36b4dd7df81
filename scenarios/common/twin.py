"""A PyTorch twin of a Keras model: the same graph, the same weights, executed by torch ops.

TorchServe must run PyTorch, not TensorFlow, yet serve the model every other framework serves. The
twin is built by walking the Keras functional graph layer by layer (nested models are inlined) and
converting each layer with its weights; it is then traced to TorchScript, so the server needs only
torch, not this code. Tensors stay in torch's channels-first layout inside the twin: 4-D inputs are
permuted once at the input, embeddings once at their output, and the layers are converted to match.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Unsupported(ValueError):
    pass


def _t(a: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32, copy=True))


class Activation(nn.Module):
    def __init__(self, name: str) -> None:
        super().__init__()
        if name not in ("linear", "relu", "relu6", "sigmoid", "softmax", "tanh"):
            raise Unsupported(f"activation {name}")
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.name == "relu":
            return F.relu(x)
        if self.name == "relu6":
            return F.relu6(x)
        if self.name == "sigmoid":
            return torch.sigmoid(x)
        if self.name == "softmax":
            # Keras applies softmax on the last axis of its channels-last tensor: channels here.
            return torch.softmax(x, dim=1 if x.dim() > 2 else -1)
        if self.name == "tanh":
            return torch.tanh(x)
        return x


class SamePad(nn.Module):
    """TensorFlow's "same" padding: the extra pixel goes after (bottom/right), unlike torch's.

    The amounts depend on the spatial size, which Keras knows statically; computing them once here
    keeps the traced graph free of shape arithmetic.
    """

    def __init__(
        self,
        sizes: tuple[int, ...],
        kernel: tuple[int, ...],
        stride: tuple[int, ...],
        dilation: tuple[int, ...],
    ) -> None:
        super().__init__()
        pads: list[int] = []
        for size, k, s, d in zip(sizes, kernel, stride, dilation, strict=True):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads = [total // 2, total - total // 2, *pads]  # F.pad wants the last dimension first
        self.pads = pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)


class ConvNd(nn.Module):
    def __init__(self, conv: nn.Module, pad: nn.Module, act: Activation) -> None:
        super().__init__()
        self.pad, self.conv, self.act = pad, conv, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(self.pad(x)))


class DenseAct(nn.Module):
    def __init__(self, linear: nn.Linear, act: Activation) -> None:
        super().__init__()
        self.linear, self.act = linear, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.linear(x))


class ToChannelsFirst(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2) if x.dim() == 4 else x


class EmbeddingCF(nn.Module):
    def __init__(self, emb: nn.Embedding) -> None:
        super().__init__()
        self.emb = emb

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.emb(x.long()).permute(0, 2, 1)  # (N, L, E) -> (N, E, L), Conv1d's layout


class Affine(nn.Module):
    """y = x * scale + offset per channel (Rescaling, Normalization, inference BatchNorm)."""

    def __init__(self, scale: torch.Tensor, offset: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("offset", offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1, -1] + [1] * (x.dim() - 2)
        return x * self.scale.reshape(shape) + self.offset.reshape(shape)


class ReLUClip(nn.Module):
    def __init__(self, max_value: float | None) -> None:
        super().__init__()
        self.max_value = max_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) if self.max_value is None else torch.clamp(x, 0.0, self.max_value)


class Add(nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a + b


class GlobalPool(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = list(range(2, x.dim()))
        return x.mean(dim=dims) if self.kind == "avg" else x.amax(dim=dims)


class ZeroPad2d(nn.Module):
    def __init__(self, padding: Any) -> None:
        super().__init__()
        (top, bottom), (left, right) = padding
        self.pads = [int(left), int(right), int(top), int(bottom)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pads)


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class GraphTwin(nn.Module):
    """Runs converted layers in the Keras graph's (topological) order."""

    def __init__(self, steps: list[tuple[str, list[str], nn.Module]], inputs: list[str], output: str) -> None:
        super().__init__()
        self.order = [(name, ins) for name, ins, _ in steps]
        self.layers = nn.ModuleDict({_key(name): mod for name, _, mod in steps})
        self.inputs, self.output = inputs, output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {self.inputs[0]: x}
        for name, ins in self.order:
            values[name] = self.layers[_key(name)](*[values[i] for i in ins])
        return values[self.output]


def _key(name: str) -> str:
    return name.replace(".", "_")


def _activation(layer: Any) -> Activation:
    fn = getattr(layer, "activation", None)
    return Activation(getattr(fn, "__name__", "linear") if fn is not None else "linear")


def convert_layer(layer: Any) -> nn.Module:
    """One Keras layer -> a torch module with the same weights (channels-first inside the twin)."""
    kind = type(layer).__name__
    w = [np.asarray(v) for v in layer.get_weights()]
    if kind == "InputLayer":
        return ToChannelsFirst()
    if kind in ("Dropout", "SpatialDropout1D", "SpatialDropout2D"):
        return Identity()
    if kind == "Dense":
        linear = nn.Linear(w[0].shape[0], w[0].shape[1], bias=layer.use_bias)
        linear.weight.data = _t(w[0].T)
        if layer.use_bias:
            linear.bias.data = _t(w[1])
        return DenseAct(linear, _activation(layer))
    if kind in ("Conv1D", "Conv2D", "DepthwiseConv2D"):
        return _conv(layer, kind, w)
    if kind == "BatchNormalization":
        gamma = w.pop(0) if layer.scale else np.ones_like(w[-1])
        beta = w.pop(0) if layer.center else np.zeros_like(w[-1])
        mean, var = w
        scale = gamma / np.sqrt(var + layer.epsilon)
        return Affine(_t(scale), _t(beta - mean * scale))
    if kind == "ReLU":
        if float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
            raise Unsupported("ReLU with a slope or threshold")
        return ReLUClip(None if layer.max_value is None else float(layer.max_value))
    if kind == "Activation":
        return _activation(layer)
    if kind == "Rescaling":
        return Affine(_t(np.atleast_1d(layer.scale)), _t(np.atleast_1d(layer.offset)))
    if kind == "Normalization":
        mean, var = np.asarray(layer.mean).ravel(), np.asarray(layer.variance).ravel()
        std = np.maximum(np.sqrt(var), 1e-7)  # Keras' own floor (backend.epsilon())
        return Affine(_t(1.0 / std), _t(-mean / std))
    if kind == "ZeroPadding2D":
        return ZeroPad2d(layer.padding)
    if kind == "Add":
        return Add()
    if kind in ("GlobalAveragePooling2D", "GlobalAveragePooling1D"):
        return GlobalPool("avg")
    if kind in ("GlobalMaxPooling1D", "GlobalMaxPooling2D"):
        return GlobalPool("max")
    if kind == "Embedding":
        emb = nn.Embedding(w[0].shape[0], w[0].shape[1])
        emb.weight.data = _t(w[0])
        return EmbeddingCF(emb)
    raise Unsupported(f"Keras layer {kind} ({layer.name})")


def _conv(layer: Any, kind: str, w: list[np.ndarray]) -> nn.Module:
    stride, dilation = tuple(layer.strides), tuple(layer.dilation_rate)
    kernel = w[0]
    if kind == "Conv1D":
        k, cin, cout = kernel.shape
        conv: nn.Module = nn.Conv1d(cin, cout, k, stride=stride, dilation=dilation, bias=layer.use_bias)
        conv.weight.data = _t(kernel.transpose(2, 1, 0))
    elif kind == "Conv2D":
        kh, kw, cin, cout = kernel.shape
        conv = nn.Conv2d(
            cin,
            cout,
            (kh, kw),
            stride=stride,
            dilation=dilation,
            bias=layer.use_bias,
            groups=getattr(layer, "groups", 1),
        )
        conv.weight.data = _t(kernel.transpose(3, 2, 0, 1))
    else:
        kh, kw, cin, mult = kernel.shape
        conv = nn.Conv2d(
            cin, cin * mult, (kh, kw), stride=stride, dilation=dilation, bias=layer.use_bias, groups=cin
        )
        conv.weight.data = _t(kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw))
    if layer.use_bias:
        conv.bias.data = _t(w[1])
    size = tuple(kernel.shape[: len(stride)])
    spatial = tuple(layer.input.shape[1:-1])
    if layer.padding == "same" and any(dim is None for dim in spatial):
        raise Unsupported(f"'same' padding over an unknown input size ({layer.name})")
    pad: nn.Module = SamePad(spatial, size, stride, dilation) if layer.padding == "same" else Identity()
    return ConvNd(conv, pad, _activation(layer))


def _inbound(layer: Any) -> list[str]:
    nodes = layer._inbound_nodes
    return [t._keras_history.operation.name for t in nodes[0].input_tensors] if nodes else []


def graph_steps(model: Any, rename: dict[str, str] | None = None) -> list[tuple[str, list[str], nn.Module]]:
    """(name, input names, module) for every layer; a nested model's layers are inlined."""
    rename = dict(rename or {})
    steps: list[tuple[str, list[str], nn.Module]] = []
    for layer in model.layers:
        ins = [rename.get(i, i) for i in _inbound(layer)]
        if hasattr(layer, "layers") and type(layer).__name__ in ("Functional", "Sequential", "Model"):
            inner_input = layer.inputs[0]._keras_history.operation.name
            inner_output = layer.outputs[0]._keras_history.operation.name
            inner = graph_steps(layer, {inner_input: ins[0]})
            # The nested model's own InputLayer would permute a second time: drop it.
            steps += [s for s in inner if s[0] != inner_input]
            rename[layer.name] = rename.get(inner_output, inner_output)
            continue
        if type(layer).__name__ == "InputLayer":
            steps.append((layer.name, [f"{layer.name}:raw"], convert_layer(layer)))
            continue
        steps.append((layer.name, ins, convert_layer(layer)))
    return steps


def twin_of(model: Any) -> nn.Module:
    steps = graph_steps(model)
    input_name = model.inputs[0]._keras_history.operation.name
    if all(name != input_name for name, _, _ in steps):
        # Sequential models keep their InputLayer out of `layers`: add the layout step ourselves.
        steps.insert(0, (input_name, [f"{input_name}:raw"], ToChannelsFirst()))
    # The last step is the model's output: a nested model's output was inlined under its inner name.
    return GraphTwin(steps, [f"{input_name}:raw"], steps[-1][0]).eval()


def trace(twin: nn.Module, example: np.ndarray) -> torch.jit.ScriptModule:
    """TorchScript of the twin, so that the server needs torch only."""
    with torch.inference_mode(False), torch.no_grad():
        traced = torch.jit.trace(twin, torch.from_numpy(example), check_trace=False)
    return torch.jit.freeze(traced.eval())
