// Examples from the API reference (shared/reference/openai-batch-api.md) and the spec, repaired to
// valid JSON (the spec's own examples carry trailing commas and `{ ... }` placeholders).

export const createdBatch = {
  id: "batch_abc123",
  object: "batch",
  endpoint: "/v1/chat/completions",
  model: null,
  errors: null,
  input_file_id: "file-abc123",
  completion_window: "24h",
  status: "validating",
  output_file_id: null,
  error_file_id: null,
  created_at: 1711471533,
  in_progress_at: null,
  expires_at: 1711557933,
  finalizing_at: null,
  completed_at: null,
  failed_at: null,
  expired_at: null,
  cancelling_at: null,
  cancelled_at: null,
  request_counts: { total: 0, completed: 0, failed: 0 },
  usage: {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0
  },
  metadata: { customer_id: "user_123456789", batch_description: "Nightly eval job" }
}

export const completedBatch = {
  id: "batch_abc123",
  object: "batch",
  endpoint: "/v1/completions",
  model: "gpt-5-2025-08-07",
  errors: null,
  input_file_id: "file-abc123",
  completion_window: "24h",
  status: "completed",
  output_file_id: "file-cvaTdG",
  error_file_id: "file-HOWS94",
  created_at: 1711471533,
  in_progress_at: 1711471538,
  expires_at: 1711557933,
  finalizing_at: 1711493133,
  completed_at: 1711493163,
  failed_at: null,
  expired_at: null,
  cancelling_at: null,
  cancelled_at: null,
  request_counts: { total: 100, completed: 95, failed: 5 },
  usage: {
    input_tokens: 1500,
    input_tokens_details: { cached_tokens: 1024 },
    output_tokens: 500,
    output_tokens_details: { reasoning_tokens: 300 },
    total_tokens: 2000
  },
  metadata: { customer_id: "user_123456789", batch_description: "Nightly eval job" }
}

/** A 2024 batch as recorded: no `model` key at all, zero usage. */
export const oldBatchWithoutModel = (() => {
  const { model: _model, ...rest } = completedBatch
  return { ...rest, id: "batch_6h7c2Kc5oWfBbXyq8U0mB1Lw", usage: createdBatch.usage }
})()

/** Every optional key left out. */
export const minimalBatch = {
  id: "batch_min",
  object: "batch",
  endpoint: "/v1/embeddings",
  input_file_id: "file-1",
  completion_window: "24h",
  status: "in_progress",
  created_at: 1711471533
}

export const failedBatch = {
  ...createdBatch,
  id: "batch_failed",
  status: "failed",
  failed_at: 1711471540,
  errors: {
    object: "list",
    data: [
      {
        code: "invalid_url",
        message: "The URL provided for this request does not match the batch endpoint.",
        param: "url",
        line: 2
      },
      {
        code: "invalid_request",
        message: "Cannot find file file-nope, or organization org-x does not have access to it.",
        param: "file_id",
        line: null
      }
    ]
  }
}

export const cancelledBatch = {
  ...createdBatch,
  id: "batch_cancelled",
  status: "cancelled",
  cancelling_at: 1711471600,
  cancelled_at: 1711472205,
  error_file_id: "file-err",
  request_counts: { total: 1, completed: 0, failed: 0 }
}

/** A 2025-09 response that carried legacy usage keys beside the new ones. */
export const legacyUsageBatch = {
  ...completedBatch,
  usage: {
    ...completedBatch.usage,
    prompt_tokens: 0,
    completion_tokens: 0,
    prompt_tokens_details: null,
    completion_tokens_details: null
  }
}

export const listPage = {
  object: "list",
  data: [completedBatch, createdBatch],
  first_id: "batch_abc123",
  last_id: "batch_abc456",
  has_more: true
}

export const file = {
  id: "file-abc123",
  object: "file",
  bytes: 120000,
  created_at: 1677610602,
  expires_at: 1680202602,
  filename: "batch_input.jsonl",
  purpose: "batch",
  status: "processed",
  status_details: null
}

export const fileDeleted = { id: "file-abc123", object: "file", deleted: true }

export const errorBody = {
  error: { message: "No such File object: file-x", type: "invalid_request_error", param: "id", code: null },
  detail: { message: "No such File object: file-x", code: null }
}

export const outputLine = {
  id: "batch_req_123",
  custom_id: "request-2",
  response: {
    status_code: 200,
    request_id: "req_123",
    body: { id: "chatcmpl-123", object: "chat.completion", choices: [] }
  },
  error: null
}

export const httpErrorLine = {
  id: "batch_req_456",
  custom_id: "request-3",
  response: {
    status_code: 400,
    request_id: "req_456",
    body: { error: { message: "bad", type: "invalid_request_error", param: null, code: null } }
  },
  error: null
}

export const expiredLine = {
  id: "batch_req_789",
  custom_id: "request-4",
  response: null,
  error: { code: "batch_expired", message: "This request could not be executed before the completion window expired." }
}

export const requestLine = {
  custom_id: "request-1",
  method: "POST" as const,
  url: "/v1/chat/completions",
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "What is 2+2?" }], max_tokens: 100 }
}

export const upload = {
  id: "upload_abc123",
  object: "upload",
  bytes: 2147483648,
  created_at: 1719184911,
  filename: "training_examples.jsonl",
  purpose: "batch",
  status: "completed",
  expires_at: 1719127296,
  file: { ...file, id: "file-xyz321", bytes: 2147483648 }
}

export const uploadPart = {
  id: "part_def456",
  object: "upload.part",
  created_at: 1719185911,
  upload_id: "upload_abc123"
}
