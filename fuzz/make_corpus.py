#!/usr/bin/env python3
"""Writes the kept seed corpus of the fuzz targets into fuzz/corpus/<target>/.

Each target reads a few choice bytes before its data (see the target's
source); the seeds here pick ordinary choices. Run it again after changing a
target's input layout. It overwrites only its own files: the inputs kept from
findings (fuzz/README.md) stay.
"""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SOURCE = os.path.dirname(HERE)


def frame(header, value=b""):
    header = header.encode() if isinstance(header, str) else header
    return struct.pack(">II", 4 + len(header) + len(value), len(header)) + header + value


def body(header, value=b""):
    return frame(header, value)[4:]


# PROTOCOL.md, 2.2 and the pipelining example of 2.5.
GET = frame('{"id":2,"op":"get","key":"greeting"}')
GET_REPLY = frame('{"expires_ms":null,"found":true,"id":2,"layer":"kv","ok":true}', b"hello")
PIPELINE = b"".join([
    frame('{"id":101,"op":"set","key":"p"}', b"pv"),
    frame('{"id":102,"op":"get","key":"p"}'),
    frame('{"id":103,"op":"bogus"}'),
    frame('{"id":104,"op":"del","keys":["p"]}'),
    frame('{"id":105,"op":"get","key":"p"}'),
])
REQUESTS = {
    "get": body('{"id":2,"op":"get","key":"greeting"}'),
    "set": body('{"id":7,"op":"set","key":"k1","tenant":"app","layer":"response","ttl_ms":60000,"tags":["a","b"]}',
                b"v1"),
    "hello": body('{"id":1,"op":"hello","version":1,"client":"myapp","require":["kv","ttl"]}'),
    "keys": body('{"id":16,"op":"keys","tenant":"t1","pattern":"user:*","limit":2,"after":"user:10"}'),
    "invalidate": body('{"id":21,"op":"invalidate","tenant":"t1","tags":["a","b"],"pattern":"user:*"}'),
    "no_id": body('{"op":"ping","refresh":true,"id":null}'),
    "utf8": body('{"id":18446744073709551615,"op":"set","key":"caf\\u00e9 \\ud83d\\ude00","meta":{"m":1.5}}', b"\0\xff"),
    "not_object": body("[1,2,3]"),
    "short_header": b"\x00\x00\x00\x10{}",
}

CSV = {
    "plain": "key,value\na,1\nb,2\nc,3\n",
    "quoted": 'key,value,tags\r\n"a,b","say ""hi""","x;y"\r\n"multi\nline",v,\r\n',
    "bom_blank": "\ufeffkey,value\n\n  \nk,v\nlast,no newline",
    "errors": 'key,value\nonly one\n5" screen,x\n"open,quote\nnext,row\nk,"v"x\n',
    "prompt": "prompt,model,value\nWhat is 2+2?,gpt-4o,4\n\"Explain, briefly\",gpt-4o,\"It is.\"\n",
}
JSONL = {
    "plain": '{"key":"a","value":"1"}\n{"key":"b","value":2,"tags":["x","y"],"meta":{"m":1}}\n',
    "errors": '{"key":"a"}\r\nnot json\n[1,2]\n\n{"key":null,"value":true}\n',
}

CONFIG = {
    "sections": '[daemon]\nlog_level = "debug"\nio_threads = 2\n[limits]\nmax_frame_bytes = "1MiB"\n'
                '[store]\nmax_bytes = "512MiB"\nsweep_interval = "500ms"\n[semantic]\nthreshold = 0.9\n',
    "tables": '[prices."gpt-4o"]\ninput = 2.50\noutput = 10\n[rules.model_updated]\ntags = ["model:{model}"]\n'
              '[rules.document_changed]\ndeps = ["doc:{doc}"]\npatterns = "summary:{doc}:*"\nlayers = ["retrieval"]\n',
    "openai": '[semantic]\nembedder = "openai"\nopenai_url = "http://127.0.0.1:11434/v1"\n'
              'openai_model = "nomic-embed-text"\n',
    "flags": '[ttl]\nkv = "1h30m"\n\0store.max_entries=100000\ndaemon.socket=~/s.sock\nlimits.max_header_bytes=512\n',
    "bad": '[store]\nmax_bytes = -1\n[unknown]\nx = 1\n',
}

JSON_DOCS = {
    "request": {"model": "gpt-4o", "messages": [{"role": "system", "content": "Be brief."},
                                                {"role": "user", "content": "What is the capital of France?"}],
                "params": {"temperature": 0.0, "stream": True, "max_tokens": 100}},
    "parts": {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                                      {"type": "text", "text": "b"}]}],
              "params": None},
    "numbers": [0, -0.0, 1.0, 1e300, 9007199254740993, -9007199254740992.0, 0.1, 1e-7, 18446744073709551615],
    "strings": {"z": "\u00e9\u0000\n\t\"\\", "a": {"\U0001F600": [], "": {}}, "m": [True, False, None]},
}


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    # frame: limit choice, four chunk sizes, take-buffer mask, then the stream.
    write("frame", "get", bytes([7, 5, 17, 3, 63, 0]) + GET)
    write("frame", "reply", bytes([6, 63, 63, 63, 63, 0xFF]) + GET_REPLY)
    write("frame", "pipeline", bytes([7, 1, 2, 3, 40, 0x55]) + PIPELINE)
    write("frame", "empty_frames", bytes([0, 0, 1, 2, 3, 0x0F]) + b"\0\0\0\0" * 3 + b"\0\0")
    # A body handed over with take_buffer from a buffer small enough to be
    # kept inline by std::string (found by this target).
    write("frame", "take_buffer_small_frame", bytes([6, 14, 63, 63, 63, 1]) + frame("{}", b"v") + frame("{}", b"w"))
    write("frame", "oversized", bytes([4, 2, 2, 2, 2, 0]) + GET + struct.pack(">I", 17) + b"x" * 8)
    # request: header limit choice, then the body.
    for name, data in REQUESTS.items():
        write("request", name, bytes([5]) + data)
    write("request", "header_limit", bytes([2]) + REQUESTS["get"])
    # table_reader: format (bit 0: JSON Lines), chunk size, small record limit, then the file.
    for name, text in CSV.items():
        write("table_reader", f"csv_{name}", bytes([0, 3, 20]) + text.encode())
    for name, text in JSONL.items():
        write("table_reader", f"jsonl_{name}", bytes([1, 7, 30]) + text.encode())
    write("table_reader", "csv_invalid_utf8", bytes([0, 1, 63]) + b"key,value\nk,\xff\xfe\n\"\xc3\",v\n")
    # config: the file, then NUL and -o lines.
    with open(os.path.join(SOURCE, "docs", "config.toml"), "rb") as f:
        write("config", "template", f.read())
    for name, text in CONFIG.items():
        write("config", name, text.encode())
    # canonical: bit 0 of the first byte: raw text instead of a JSON document.
    for name, doc in JSON_DOCS.items():
        write("canonical", name, b"\0" + json.dumps(doc, ensure_ascii=False).encode())
    write("canonical", "escaped", b"\0" + json.dumps(JSON_DOCS["strings"], indent=1).encode())
    write("canonical", "text_utf8", b"\1" + "caf\u00e9 \U0001F600".encode())
    write("canonical", "text_invalid", b"\1" + b"\xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80")


if __name__ == "__main__":
    main()
