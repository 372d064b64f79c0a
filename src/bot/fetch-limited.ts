// Downloads a user's upload from a chat platform's file URL with a byte cap, so a file whose
// reported size was a lie (or a URL that streams forever) cannot fill the bot's memory.

/** Above any limit the service would accept; the service checks the real limit after this. */
export const HARD_DOWNLOAD_CAP = 64 * 1024 * 1024;

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
}

/**
 * GETs `url` and returns its body, refusing more than `maxBytes` (by Content-Length when the
 * server sends one, and while streaming in any case).
 *
 * @example
 * const png = await fetchLimited(attachment.url, { maxBytes: attachment.size + 1024 });
 */
export async function fetchLimited(
  url: string,
  options: { maxBytes: number; headers?: Record<string, string> },
): Promise<Buffer> {
  const maxBytes = Math.min(options.maxBytes, HARD_DOWNLOAD_CAP);
  const response = await fetch(url, { headers: options.headers, redirect: 'follow' });
  if (!response.ok || !response.body) {
    throw new DownloadError(`downloading the upload failed: HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body.cancel();
    throw new DownloadError(`the upload is ${declared} bytes, more than the ${maxBytes} expected`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.length;
    if (total > maxBytes) throw new DownloadError(`the upload is more than the ${maxBytes} bytes expected`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
