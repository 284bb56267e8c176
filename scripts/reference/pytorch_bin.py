#!/usr/bin/python3
"""Writes the fixtures of goformer's PyTorch checkpoint reader (tensor/pytorch.go).

Run from the repository root with Debian's python3-torch:
    /usr/bin/python3 scripts/reference/pytorch_bin.py

tensor/testdata/pytorch/
  state.bin         torch.save of a state dict (zip format) with every case the reader
                    must handle: a module's state dict (with its _metadata), float32,
                    float16, bfloat16, float64, int64, bool and uint8 tensors, a
                    Parameter, a transposed (non-contiguous) view sharing its storage,
                    a slice at an offset, an expanded (stride 0) view, 0-d and empty
                    tensors
  state_legacy.bin  the same state dict in the format of PyTorch before 1.6
  state.json        what each tensor must read as: dtype, shape, values (row-major)
  evil.bin          a zip checkpoint whose pickle calls os.system: must be refused
  evil_legacy.bin   the same in the legacy format
  notdict.bin       a checkpoint of a list, not a state dict
models/gpt/testdata/tiny-bin/        the tiny GPT-2 of models/gpt/testdata/tiny with
                                     its weights as pytorch_model.bin, as the hub
                                     serves older models: transformer.-prefixed
                                     names, the attn.bias / attn.masked_bias
                                     buffers and lm_head.weight sharing wte's storage
models/gpt/testdata/tiny-sharded/    the same split into two shards behind
                                     pytorch_model.bin.index.json
"""
import collections
import io
import json
import os
import pickle
import shutil
import struct
import zipfile

import torch

torch.manual_seed(0)
OUT = "tensor/testdata/pytorch"
os.makedirs(OUT, exist_ok=True)


def state_dict():
    m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    sd = m.state_dict()  # an OrderedDict with _metadata
    a = torch.randn(3, 4)
    sd["a"] = a
    sd["a_t"] = a.t()  # shares a's storage, strides (1, 4)
    base = torch.randn(10)
    sd["slice"] = base[2:7]  # offset 2 into a storage of 10
    sd["param"] = torch.nn.Parameter(torch.randn(2, 3))
    sd["half"] = torch.randn(2, 3).half()
    sd["bf16"] = torch.randn(2, 3).bfloat16()
    sd["double"] = torch.randn(4).double()
    sd["position_ids"] = torch.arange(6, dtype=torch.int64).unsqueeze(0)
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.empty(0, 4)
    sd["mask"] = torch.tensor([True, False, True])
    sd["bytes"] = torch.tensor([1, 200, 7], dtype=torch.uint8)
    sd["expanded"] = torch.randn(1, 3).expand(2, 3)  # strides (0, 1)
    sd["col"] = torch.randn(3, 5)[:, 1:4]  # offset 1, strides (5, 1), not contiguous
    return sd


def expected(sd):
    out = {}
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.bool: "BOOL", torch.uint8: "U8"}
    for k, v in sd.items():
        v = v.detach()
        vals = v.float().reshape(-1).tolist() if v.is_floating_point() else v.long().reshape(-1).tolist()
        out[k] = {"dtype": names[v.dtype], "shape": list(v.shape), "values": vals}
    return out


sd = state_dict()
torch.save(sd, f"{OUT}/state.bin")
torch.save(sd, f"{OUT}/state_legacy.bin", _use_new_zipfile_serialization=False)
with open(f"{OUT}/state.json", "w") as f:
    json.dump(expected(sd), f, indent=1)
# Both read back in PyTorch as they were written.
for name in ["state.bin", "state_legacy.bin"]:
    back = torch.load(f"{OUT}/{name}")
    assert all(torch.equal(back[k], sd[k]) for k in sd), name
torch.save([torch.zeros(2)], f"{OUT}/notdict.bin")


class Evil:
    def __reduce__(self):
        return (os.system, ("echo goformer-test-pwned",))


# The zip layout of torch.save with a pickle that would run a command.
with zipfile.ZipFile(f"{OUT}/evil.bin", "w", zipfile.ZIP_STORED) as z:
    z.writestr("evil/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    z.writestr("evil/version", "3\n")
with open(f"{OUT}/evil_legacy.bin", "wb") as f:
    for obj in [0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True}]:
        pickle.dump(obj, f, protocol=2)
    pickle.dump({"w": Evil()}, f, protocol=2)
    pickle.dump([], f, protocol=2)


# The tiny GPT-2 as the hub serves older checkpoints.
def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = collections.OrderedDict()
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32"
        lo, hi = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.float32).reshape(v["shape"]).clone()
    return out


src = "models/gpt/testdata/tiny"
cfg = json.load(open(f"{src}/config.json"))
w = read_safetensors(f"{src}/model.safetensors")
hub = collections.OrderedDict()
for k, v in w.items():
    hub["transformer." + k] = v
n = cfg["n_positions"]
for i in range(cfg["n_layer"]):
    hub[f"transformer.h.{i}.attn.bias"] = torch.tril(torch.ones(n, n, dtype=torch.uint8)).view(1, 1, n, n)
    hub[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
hub["lm_head.weight"] = hub["transformer.wte.weight"]  # tied: one storage in the file
for d in ["models/gpt/testdata/tiny-bin", "models/gpt/testdata/tiny-sharded"]:
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copy(f"{src}/config.json", d)
torch.save(hub, "models/gpt/testdata/tiny-bin/pytorch_model.bin")
names = list(hub)
half = len(names) // 2
weight_map = {}
for i, part in enumerate([names[:half], names[half:]]):
    fname = f"pytorch_model-0000{i + 1}-of-00002.bin"
    torch.save(collections.OrderedDict((k, hub[k]) for k in part), f"models/gpt/testdata/tiny-sharded/{fname}")
    weight_map.update({k: fname for k in part})
with open("models/gpt/testdata/tiny-sharded/pytorch_model.bin.index.json", "w") as f:
    json.dump({"metadata": {"total_size": sum(v.numel() * v.element_size() for v in hub.values())},
               "weight_map": weight_map}, f, indent=2)
print("wrote", OUT, "and models/gpt/testdata/tiny-{bin,sharded}")
