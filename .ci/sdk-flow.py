"""The official Python SDK (openai, pinned in .ci/run) against `batchfx fake-server`, started as a
user starts it: the built CLI binary on a port of its own, then the SDK with that base_url and a key
of the user's (any key is accepted).

The whole flow: upload, create, retrieve, list with auto-pagination, wait until completed, download
and parse the output, cancel another batch and wait until cancelled, delete, a 404 as the SDK's
NotFoundError. Every object the emulator answers is checked with the SDK's own pydantic types
(`model_validate` on the JSON as sent: the SDK itself builds its objects without validating them),
and so is the body of every endpoint's default responder, found in the emulator's own list of
endpoints (a 400 for an unknown one names them). Run after `pnpm build`; prints "sdk-flow.py: ok" or
the first failure and exits non-zero.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import openai
import pydantic
from openai import OpenAI
from openai.types import (
    Batch,
    Completion,
    CreateEmbeddingResponse,
    FileDeleted,
    FileObject,
    ImagesResponse,
    ModerationCreateResponse,
    Video,
)
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def validated(model, value, what):
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as error:
        raise Failure(f"{what} does not validate as {model.__name__}: {error}") from None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server():
    port = free_port()
    child = subprocess.Popen(
        [
            "node",
            os.path.join(REPO, "packages", "cli", "dist", "bin.js"),
            "fake-server",
            "--port",
            str(port),
            "--seed-batches",
            "150",
            "--validating-ms",
            "200",
            "--in-progress-ms",
            "600",
            "--finalizing-ms",
            "200",
            "--cancelling-ms",
            "300",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = []
    reader = threading.Thread(target=lambda: first.append(child.stdout.readline()), daemon=True)
    reader.start()
    reader.join(20)
    if not first or first[0] == "":
        child.kill()
        raise Failure(f"batchfx fake-server printed no URL in 20 s: {child.stderr.read()}")
    # Whatever it prints later is read and dropped, so that a full pipe never blocks it.
    threading.Thread(target=lambda: child.stdout.read(), daemon=True).start()
    threading.Thread(target=lambda: child.stderr.read(), daemon=True).start()
    return port, first[0].strip(), child


def wait_for(client, batch_id, wanted):
    deadline = time.monotonic() + 30
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in wanted:
            return batch
        check(time.monotonic() < deadline, f"batch {batch_id} is still {batch.status} after 30 s")
        time.sleep(0.1)


def raw_json(call):
    """The JSON body as sent, from a `with_raw_response` call."""
    return call.http_response.json()


def jsonl(lines):
    return ("\n".join(json.dumps(line) for line in lines) + "\n").encode()


def chat_lines(n):
    return [
        {
            "custom_id": f"q-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Question {i}?"}]},
        }
        for i in range(1, n + 1)
    ]


# One request body per endpoint the emulator serves, and the SDK's type of the answer.
ENDPOINTS = {
    "/v1/chat/completions": (
        {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        ChatCompletion,
    ),
    "/v1/completions": ({"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}, Completion),
    "/v1/embeddings": ({"model": "text-embedding-3-small", "input": ["a", "b"]}, CreateEmbeddingResponse),
    "/v1/responses": ({"model": "gpt-4o-mini", "input": "hi"}, Response),
    "/v1/moderations": ({"model": "omni-moderation-latest", "input": "hi"}, ModerationCreateResponse),
    "/v1/images/generations": ({"model": "gpt-image-1", "prompt": "a cat", "n": 2}, ImagesResponse),
    "/v1/images/edits": (
        {"model": "gpt-image-1", "prompt": "a hat", "images": [{"image_url": "https://example.com/cat.png"}]},
        ImagesResponse,
    ),
    "/v1/videos": ({"model": "sora-2", "prompt": "a cat"}, Video),
}


def served_endpoints(client, file_id):
    """The endpoints the emulator serves, as its 400 for an unknown one lists them."""
    try:
        client.batches.create(input_file_id=file_id, endpoint="/v1/unknown", completion_window="24h")
    except openai.BadRequestError as error:
        message = error.body.get("message", "") if isinstance(error.body, dict) else str(error)
        endpoints = re.findall(r"'(/v1/[^']*)'", message.split("Supported values are: ", 1)[-1])
        check(endpoints, f"endpoints: cannot read {message!r}")
        return endpoints
    raise Failure("an unknown endpoint was accepted")


def result_lines(client, file_id):
    text = client.files.content(file_id).text
    lines = [json.loads(line) for line in text.splitlines() if line.strip() != ""]
    for line in lines:
        check(
            isinstance(line.get("id"), str) and isinstance(line.get("custom_id"), str) and "error" in line,
            f"result line shape: {line}",
        )
    return lines


def flow(client):
    upload = client.files.with_raw_response.create(file=("input.jsonl", jsonl(chat_lines(5))), purpose="batch")
    file = validated(FileObject, raw_json(upload), "upload")
    check(file.purpose == "batch" and file.filename == "input.jsonl" and file.bytes > 0, f"upload: {file}")
    validated(FileObject, raw_json(client.files.with_raw_response.retrieve(file.id)), "file retrieve")

    created = client.batches.with_raw_response.create(
        input_file_id=file.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"flow": "sdk-python"},
    )
    batch = validated(Batch, raw_json(created), "create")
    check(batch.status == "validating", f"create: status {batch.status}")
    other = client.batches.create(input_file_id=file.id, endpoint="/v1/chat/completions", completion_window="24h")

    retrieved = validated(Batch, raw_json(client.batches.with_raw_response.retrieve(batch.id)), "retrieve")
    check(retrieved.id == batch.id and retrieved.metadata == {"flow": "sdk-python"}, f"retrieve: {retrieved}")

    cancelling = validated(Batch, raw_json(client.batches.with_raw_response.cancel(other.id)), "cancel")
    check(cancelling.status == "cancelling", f"cancel: status {cancelling.status}")

    seen = [b.id for b in client.batches.list(limit=40)]
    check(len(seen) == 152, f"list: {len(seen)} batches, expected 152")
    check(len(set(seen)) == len(seen), "list: a batch came twice")
    check(seen[:2] == [other.id, batch.id], f"list: newest first expected, got {seen[:2]}")
    # Every listed batch as sent (the seeded ones are in every status) against the SDK's type.
    after = None
    while True:
        page = raw_json(client.batches.with_raw_response.list(limit=100, **({"after": after} if after else {})))
        for item in page["data"]:
            validated(Batch, item, f"listed batch {item.get('id')} ({item.get('status')})")
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    for item in raw_json(client.files.with_raw_response.list())["data"]:
        validated(FileObject, item, f"listed file {item.get('id')}")

    done = wait_for(client, batch.id, ["completed", "failed", "expired", "cancelled"])
    check(done.status == "completed", f"wait: ended {done.status}")
    validated(Batch, raw_json(client.batches.with_raw_response.retrieve(batch.id)), "completed batch")
    counts = done.request_counts
    check(counts.total == 5 and counts.completed == 5 and counts.failed == 0, f"wait: counts {counts}")
    results = result_lines(client, done.output_file_id)
    check(sorted(r["custom_id"] for r in results) == [f"q-{i}" for i in range(1, 6)], "download: custom ids")
    for r in results:
        check(r["response"]["status_code"] == 200, f"parse: {r['custom_id']} answered {r['response']}")
        chat = validated(ChatCompletion, r["response"]["body"], f"output of {r['custom_id']}")
        check(isinstance(chat.choices[0].message.content, str), f"parse: {r['custom_id']} has no message")
    validated(FileObject, raw_json(client.files.with_raw_response.retrieve(done.output_file_id)), "output file")

    cancelled = wait_for(client, other.id, ["cancelled"])
    skipped = result_lines(client, cancelled.error_file_id)
    check(len(skipped) == 5 and all(r["error"]["code"] == "batch_cancelled" for r in skipped), "cancel: error file")

    # Every endpoint the emulator serves: one batch each, every answer against the SDK's type.
    endpoints = served_endpoints(client, file.id)
    unknown = [e for e in endpoints if e not in ENDPOINTS]
    check(not unknown, f"no Python SDK type is mapped here for {unknown}: add it to ENDPOINTS")
    batches = {}
    for endpoint in endpoints:
        body, _ = ENDPOINTS[endpoint]
        lines = [{"custom_id": f"e-{i}", "method": "POST", "url": endpoint, "body": body} for i in (1, 2)]
        input_file = client.files.create(file=(f"{endpoint[4:].replace('/', '-')}.jsonl", jsonl(lines)), purpose="batch")
        batches[endpoint] = client.batches.create(
            input_file_id=input_file.id, endpoint=endpoint, completion_window="24h"
        ).id
    for endpoint, batch_id in batches.items():
        ended = wait_for(client, batch_id, ["completed", "failed", "expired", "cancelled"])
        check(ended.status == "completed", f"{endpoint}: the batch ended {ended.status}: {ended.errors}")
        results = result_lines(client, ended.output_file_id)
        check(len(results) == 2, f"{endpoint}: {len(results)} result lines")
        for r in results:
            validated(ENDPOINTS[endpoint][1], r["response"]["body"], f"the default answer of {endpoint}")

    deleted = validated(FileDeleted, raw_json(client.files.with_raw_response.delete(file.id)), "delete")
    check(deleted.deleted and deleted.id == file.id, f"delete: {deleted}")

    try:
        client.batches.retrieve("batch_missing")
        raise Failure("a missing batch was found")
    except openai.NotFoundError:
        pass
    return len(endpoints)


def main():
    port, base_url, child = start_server()
    try:
        check(base_url == f"http://127.0.0.1:{port}/v1", f"unexpected URL line: {base_url}")
        # A key from the user's environment, not the emulator's: any non-empty key is accepted.
        client = OpenAI(base_url=base_url, api_key="sk-proj-users-own-key-0123456789", max_retries=0)
        endpoints = flow(client)
    finally:
        child.send_signal(signal.SIGINT)
        try:
            code = child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait()
    # Ctrl-C ends it with 130 (128 + SIGINT), as every batchfx command ends on a signal.
    check(code in (130, 0, -signal.SIGINT), f"batchfx fake-server stopped with code {code}")
    print(f"sdk-flow.py: ok (openai {openai.__version__}, {endpoints} endpoints validated)")


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"sdk-flow.py: {failure}")
        sys.exit(1)
    except Exception as error:  # an SDK error is a failure of the flow too, named by its type
        print(f"sdk-flow.py: {type(error).__name__}: {error}")
        sys.exit(1)
