"""Builds the tiny ONNX models and tokenizer the tests load through manifests, to check the
decoding of Hugging Face style token and sequence classifiers without real weights.

Run: python3 make_tiny.py (needs the onnx and tokenizers packages). The outputs are committed;
the test suite checks their checksums through the manifests."""
import hashlib
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Tokenizer, models, pre_tokenizers, processors

words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "dress", "by", "retailer", "house", "is", "red", "great", "bad", "and"]
vocab = {w: i for i, w in enumerate(words)}
tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.Whitespace()
tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
tok.save("tiny-tokenizer.json")

# Token classifier: logits = E[input_ids]; labels O, B-BRAND, I-BRAND, B-COLOUR.
E = np.zeros((len(words), 4), dtype=np.float32)
E[:, 0] = 2.0
E[vocab["retailer"]] = [0, 3, 0, 0]
E[vocab["house"]] = [0, 0, 3, 0]
E[vocab["red"]] = [0, 0, 0, 3]
ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])
logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", 4])
g = helper.make_graph(
    [helper.make_node("Gather", ["E", "input_ids"], ["logits"], axis=0)],
    "tiny_token_classifier", [ids, mask], [logits], [numpy_helper.from_array(E, "E")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="shopgraph-tests")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, "tiny-token-classifier.onnx")

# Sequence classifier: logits = mean over tokens of F[input_ids]; labels negative, positive.
F = np.zeros((len(words), 2), dtype=np.float32)
F[vocab["great"]] = [0, 4]
F[vocab["bad"]] = [4, 0]
out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])
g = helper.make_graph(
    [helper.make_node("Gather", ["F", "input_ids"], ["t"], axis=0),
     helper.make_node("ReduceMean", ["t"], ["logits"], axes=[1], keepdims=0)],
    "tiny_sequence_classifier", [ids, mask], [out], [numpy_helper.from_array(F, "F")])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="shopgraph-tests")
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, "tiny-sequence-classifier.onnx")

for f in ["tiny-tokenizer.json", "tiny-token-classifier.onnx", "tiny-sequence-classifier.onnx"]:
    print(f, hashlib.sha256(open(f, "rb").read()).hexdigest())
