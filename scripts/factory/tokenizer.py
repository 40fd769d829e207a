"""Tiny tokenizers trained deterministically on a fixed built-in corpus.

llama: a sentencepiece BPE model (tokenizer.model, byte fallback) trained
       with Debian's spm_train, with LLaMA-3 special tokens and chat template
       (LlamaTokenizer).
qwen3: a byte-level BPE tokenizer.json (+ vocab.json, merges.txt) trained
       with HF `tokenizers`, Qwen2 pre-tokenizer regex, ChatML special
       tokens appended after the learned vocabulary (Qwen2Tokenizer).
"""

import json
import os
import shutil
import subprocess
import tempfile

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A small model can still tell a story about the sea and the sky.",
    "Hello there! How are you doing today?",
    "I am a tiny language model running on a plain CPU.",
    "Once upon a time, there was a little cat who loved to read books.",
    "The weather is nice, so we went for a walk in the park.",
    "Numbers like 12, 345 and 6789 are split into digits.",
    "What is the capital of France? The capital of France is Paris.",
    "Please write a short poem about the moon and the stars.",
    "Neural engines run matrix multiplies very fast.",
    "She said that the answer was forty-two, and then she laughed.",
    "We can test the tokenizer with words, punctuation, and spaces.",
    "Tokens are pieces of text; the model predicts the next one.",
    "Good morning! Would you like some tea or coffee?",
    "The river flows from the mountains down to the ocean.",
    "Cats, dogs, birds and fish live in the same small house.",
    "Why is the sky blue? Because of how light scatters in the air.",
    "Thank you very much for your help with this problem.",
    "Let us think step by step about the question.",
    "Caf\u00e9 cr\u00e8me and na\u00efve r\u00e9sum\u00e9 have accents; \u65e5\u672c\u8a9e has none.",
    "The end of the story is happy, and everyone goes home.",
    "Write code that reads a file and prints every line.",
    "Rain falls softly on the roof while the children sleep.",
    "Who are you? I am an assistant that answers questions.",
]


def corpus_text(repeat=8):
    lines = []
    for r in range(repeat):
        for i, s in enumerate(SENTENCES):
            lines.append(s if r % 2 == 0 else s.lower())
    return "\n".join(lines) + "\n"


LLAMA_SPECIALS = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
LLAMA_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
QWEN_ADDED = ["<think>", "</think>"]
QWEN_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\n\n</think>\n\n' }}{%- endif %}{%- endif %}"
)
QWEN_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


class SpmTokenizer:
    """LLaMA family: sentencepiece model trained by spm_train."""

    def __init__(self, vocab):
        self.vocab = vocab
        self.dir = tempfile.mkdtemp(prefix="spm-")
        with open(os.path.join(self.dir, "corpus.txt"), "w", encoding="utf-8") as f:
            f.write(corpus_text())
        args = ["spm_train", "--input=corpus.txt", "--model_prefix=tokenizer",
                "--vocab_size=%d" % vocab, "--model_type=bpe", "--byte_fallback=true",
                "--character_coverage=0.99", "--num_threads=1", "--split_digits=true",
                "--unk_id=0", "--bos_id=1", "--eos_id=2", "--pad_id=-1",
                "--bos_piece=<|begin_of_text|>", "--eos_piece=<|end_of_text|>",
                "--user_defined_symbols=" + ",".join(LLAMA_SPECIALS),
                "--normalization_rule_name=identity", "--minloglevel=2"]
        subprocess.run(args, cwd=self.dir, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self.model = os.path.join(self.dir, "tokenizer.model")
        vocab_lines = open(os.path.join(self.dir, "tokenizer.vocab"), encoding="utf-8").read().splitlines()
        self.pieces = [l.split("\t")[0] for l in vocab_lines]
        self.size = len(self.pieces)

    def id_of(self, piece):
        return self.pieces.index(piece)

    def encode(self, text, bos=True):
        out = subprocess.run(["spm_encode", "--model=" + self.model, "--output_format=id"],
                             input=text.replace("\n", " ") + "\n", capture_output=True,
                             text=True, check=True).stdout.split()
        ids = [int(x) for x in out]
        return ([1] if bos else []) + ids

    def chat(self, user):
        # apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True)
        ids = [1]
        ids += [self.id_of("<|start_header_id|>")] + self.encode("user", False)
        ids += [self.id_of("<|end_header_id|>")] + self.encode(user.strip(), False)
        ids += [self.id_of("<|eot_id|>")]
        ids += [self.id_of("<|start_header_id|>")] + self.encode("assistant", False)
        ids += [self.id_of("<|end_header_id|>")]
        return ids

    def silent_ids(self):
        return [0, 1, 2] + [self.id_of(s) for s in LLAMA_SPECIALS]

    def write(self, out):
        shutil.copyfile(self.model, os.path.join(out, "tokenizer.model"))
        added = {}
        for i, p in enumerate(self.pieces[:3 + len(LLAMA_SPECIALS)]):
            added[str(i)] = {"content": p, "lstrip": False, "normalized": False,
                             "rstrip": False, "single_word": False, "special": True}
        cfg = {
            "add_bos_token": True,
            "add_eos_token": False,
            "added_tokens_decoder": added,
            "bos_token": "<|begin_of_text|>",
            "chat_template": LLAMA_TEMPLATE,
            "clean_up_tokenization_spaces": False,
            "eos_token": "<|eot_id|>",
            "legacy": False,
            "model_max_length": 64,
            "pad_token": None,
            "sp_model_kwargs": {},
            "tokenizer_class": "LlamaTokenizer",
            "unk_token": "<unk>",
        }
        _dump(os.path.join(out, "tokenizer_config.json"), cfg)
        _dump(os.path.join(out, "special_tokens_map.json"), {
            "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "unk_token": "<unk>"})

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class BpeTokenizer:
    """Qwen family: byte-level BPE trained with HF tokenizers."""

    def __init__(self, learned_vocab):
        from tokenizers import Tokenizer, Regex, models, normalizers, pre_tokenizers, decoders, trainers
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ])
        tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
        trainer = trainers.BpeTrainer(vocab_size=learned_vocab, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=[])
        tok.train_from_iterator(corpus_text().splitlines(), trainer=trainer)
        tok.add_special_tokens(QWEN_SPECIALS)
        tok.add_tokens(QWEN_ADDED)
        self.tok = tok
        self.size = tok.get_vocab_size(with_added_tokens=True)

    def id_of(self, s):
        return self.tok.token_to_id(s)

    def encode(self, text, bos=False):
        return self.tok.encode(text, add_special_tokens=False).ids

    def chat(self, user):
        return self.encode("<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n" % user)

    def silent_ids(self):
        return [self.id_of(s) for s in QWEN_SPECIALS + QWEN_ADDED]

    def write(self, out):
        path = os.path.join(out, "tokenizer.json")
        self.tok.save(path, pretty=True)
        d = tempfile.mkdtemp()
        self.tok.model.save(d)
        shutil.copyfile(os.path.join(d, "vocab.json"), os.path.join(out, "vocab.json"))
        shutil.copyfile(os.path.join(d, "merges.txt"), os.path.join(out, "merges.txt"))
        shutil.rmtree(d)
        added = {}
        for s in QWEN_SPECIALS + QWEN_ADDED:
            added[str(self.id_of(s))] = {"content": s, "lstrip": False, "normalized": False,
                                         "rstrip": False, "single_word": False,
                                         "special": s in QWEN_SPECIALS}
        cfg = {
            "add_bos_token": False,
            "add_prefix_space": False,
            "added_tokens_decoder": added,
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
            "bos_token": None,
            "chat_template": QWEN_TEMPLATE,
            "clean_up_tokenization_spaces": False,
            "eos_token": "<|im_end|>",
            "errors": "replace",
            "model_max_length": 64,
            "pad_token": "<|endoftext|>",
            "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None,
        }
        _dump(os.path.join(out, "tokenizer_config.json"), cfg)
        _dump(os.path.join(out, "special_tokens_map.json"), {
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
            "eos_token": {"content": "<|im_end|>", "lstrip": False, "normalized": False,
                          "rstrip": False, "single_word": False},
            "pad_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": False,
                          "rstrip": False, "single_word": False}})
        _dump(os.path.join(out, "added_tokens.json"),
              {s: self.id_of(s) for s in sorted(QWEN_SPECIALS + QWEN_ADDED)})
        with open(os.path.join(out, "chat_template.jinja"), "w") as f:
            f.write(QWEN_TEMPLATE + "\n")

    def cleanup(self):
        pass


def _dump(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False, sort_keys=True)
        f.write("\n")
