/**
 * `/media/*`: generated audio, fetched from Django and served with HTTP Range
 * support so that `<audio>` can seek.
 *
 * Django's static `serve` answers every request with the whole file (200, no
 * `Accept-Ranges`), and Chromium then treats the audio as unseekable. This
 * handler passes Django's answer through when it is already partial (206) or
 * not a Range request, and otherwise cuts the requested bytes itself. The
 * files are small (a minute of 24 kHz mono 16-bit audio is 2.9 MB) and local.
 * The backend is `BACKEND_URL`, read at run time like in `proxy.ts`.
 */
import type { NextRequest } from "next/server";

import { parseRange } from "@/lib/range";

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

  // Django ignored the Range header: answer it here.
  const body = new Uint8Array(await upstream.arrayBuffer());
  const wanted = parseRange(range, body.length);
  if (wanted === "unsatisfiable") {
    headers.delete("content-length");
    headers.set("Content-Range", `bytes */${body.length}`);
    return new Response(null, { status: 416, headers });
  }
  if (wanted === null) {
    headers.set("Content-Length", String(body.length));
    return new Response(method === "HEAD" ? null : body, { status: 200, headers });
  }
  const slice = body.subarray(wanted.start, wanted.end + 1);
  headers.set("Content-Range", `bytes ${wanted.start}-${wanted.end}/${body.length}`);
  headers.set("Content-Length", String(slice.length));
  return new Response(method === "HEAD" ? null : slice, { status: 206, headers });
}

/** GET /media/...: the file, or the requested byte range of it (206). */
export function GET(request: NextRequest): Promise<Response> {
  return serve(request, "GET");
}

/** HEAD /media/...: the headers only. */
export function HEAD(request: NextRequest): Promise<Response> {
  return serve(request, "HEAD");
}
