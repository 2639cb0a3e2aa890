/**
 * A stored result line as the client's `Results.Result`: the client reads its result lines from a
 * file it downloads and keeps that conversion private, so this is the same reading of a line the
 * job already stored (a line that is not a result line fails as the client's read does).
 */
import { Results } from "@batchfx/client"
import { ParseMessage, ResultLine } from "@batchfx/core"

const errorDetail = (body: unknown): { readonly code: string | undefined; readonly message: string | undefined } => {
  if (typeof body !== "object" || body === null || !("error" in body)) return { code: undefined, message: undefined }
  const error = (body as { readonly error: unknown }).error
  if (typeof error !== "object" || error === null) return { code: undefined, message: undefined }
  const { code, message } = error as { readonly code?: unknown; readonly message?: unknown }
  return {
    code: typeof code === "string" ? code : undefined,
    message: typeof message === "string" ? message : undefined
  }
}

/** One stored line, decoded, at `position`; a `ResultDecodeError` naming the file and line when it is not a result line. */
export const fromText = (
  text: string,
  position: Results.Position
): Results.Result<unknown> | Results.ResultDecodeError => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return new Results.ResultDecodeError({
      fileId: position.fileId,
      file: position.file,
      line: position.line,
      reason: `not valid JSON (${(cause as Error).message})`
    })
  }
  const decoded = ResultLine.decodeBatchResultLine(json)
  if (decoded._tag === "Left") {
    return new Results.ResultDecodeError({
      fileId: position.fileId,
      file: position.file,
      line: position.line,
      reason: ParseMessage.format(decoded.left)
    })
  }
  const line = decoded.right
  const response = line.response ?? undefined
  if (ResultLine.isSuccess(line) && response !== undefined) {
    return {
      _tag: "Succeeded",
      customId: line.custom_id,
      id: line.id,
      statusCode: response.status_code,
      requestId: response.request_id,
      body: response.body,
      position,
      line
    }
  }
  const error = line.error ?? undefined
  const detail = errorDetail(response?.body)
  return {
    _tag: "Failed",
    customId: line.custom_id,
    id: line.id,
    statusCode: response?.status_code,
    requestId: response?.request_id,
    code: error?.code ?? detail.code,
    message: error?.message ?? detail.message ??
      (response === undefined ? "The request has no answer." : `The request got HTTP ${response.status_code}.`),
    body: response?.body,
    position,
    line
  }
}
