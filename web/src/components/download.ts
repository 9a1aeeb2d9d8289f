/**
 * Downloads an export (CSV, PNG, PDF) the API answers: the request needs the key's Authorization header, which a
 * plain link cannot carry, so the file is fetched and handed to the browser as a blob URL under its own name.
 */
import type { Client } from '../api.ts';
import { ApiError } from '../api.ts';

export async function downloadFile(client: Client, path: string, fallbackName: string): Promise<string> {
  const response = await fetch(path, { headers: { authorization: `Bearer ${client.session.token}`, 'x-sandbox-name': client.session.sandbox } });
  if (!response.ok) {
    const text = await response.text();
    let code = `HTTP_${response.status}`;
    let message = text;
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? text;
    } catch {
      // Not JSON: keep the text as the message.
    }
    throw new ApiError(response.status, code, message);
  }
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}
