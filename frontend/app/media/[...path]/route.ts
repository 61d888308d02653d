/**
 * `/media/*`: generated audio and exported books, fetched from Django and
 * served with HTTP Range support so that `<audio>` can seek.
 *
 * Django's static `serve` answers every request with the whole file (200, no
 * `Accept-Ranges`), and Chromium then treats the audio as unseekable. This
 * handler passes Django's answer through when it is already partial (206) or
 * not a Range request, and otherwise cuts the requested bytes out of Django's
 * stream itself (`sliceStream`): the file is never held in memory, and
 * reading stops at the end of the range. (Django still sends the bytes before
 * the range; a whole book is local, and a seek costs one read up to it.)
 * The backend is `BACKEND_URL`, read at run time like in `proxy.ts`.
 */
import type { NextRequest } from "next/server";

import { parseRange, sliceStream } from "@/lib/range";

export const dynamic = "force-dynamic";

const PASSED_HEADERS = ["content-type", "content-length", "content-range", "last-modified", "etag", "content-disposition"];

async function serve(request: NextRequest, method: "GET" | "HEAD"): Promise<Response> {
  const backend = process.env.BACKEND_URL || "http://127.0.0.1:8000";
  const target = new URL(`${request.nextUrl.pathname}${request.nextUrl.search}`, backend);
  const range = request.headers.get("range");
  const upstream = await fetch(target, {
    method: range ? "GET" : method,
    headers: range ? { range } : {},
    cache: "no-store",
  });

  const headers = new Headers({ "Accept-Ranges": "bytes", "Cache-Control": "no-cache" });
  for (const name of PASSED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value) headers.set(name, value);
  }
  if (!range || upstream.status !== 200) {
    return new Response(method === "HEAD" ? null : upstream.body, { status: upstream.status, headers });
  }

  // Django ignored the Range header: answer it here, cutting the bytes out of its stream.
  const declared = upstream.headers.get("content-length");
  const size = declared && /^\d+$/.test(declared) ? Number(declared) : null;
  const wanted = upstream.body && size !== null ? parseRange(range, size) : null;
  if (method === "HEAD" || wanted === "unsatisfiable") await upstream.body?.cancel();
  // No usable range (or an unknown size): the whole file, as Django sent it.
  if (wanted === null) return new Response(method === "HEAD" ? null : upstream.body, { status: 200, headers });
  if (wanted === "unsatisfiable") {
    headers.delete("content-length");
    headers.set("Content-Range", `bytes */${size}`);
    return new Response(null, { status: 416, headers });
  }
  headers.set("Content-Range", `bytes ${wanted.start}-${wanted.end}/${size}`);
  headers.set("Content-Length", String(wanted.end - wanted.start + 1));
  return new Response(method === "HEAD" ? null : sliceStream(upstream.body!, wanted), { status: 206, headers });
}

/** GET /media/...: the file, or the requested byte range of it (206). */
export function GET(request: NextRequest): Promise<Response> {
  return serve(request, "GET");
}

/** HEAD /media/...: the headers only. */
export function HEAD(request: NextRequest): Promise<Response> {
  return serve(request, "HEAD");
}
