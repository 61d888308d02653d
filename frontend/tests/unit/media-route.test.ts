// @vitest-environment node
/**
 * The /media route (app/media/[...path]/route.ts) against a mocked Django that
 * ignores Range, as Django's static `serve` does: the requested bytes are cut
 * out of the stream, and reading stops once they are sent.
 */
import type { NextRequest } from "next/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { GET, HEAD } from "@/app/media/[...path]/route";
import { sliceStream } from "@/lib/range";

const FILE = Uint8Array.from({ length: 100 }, (_, index) => index);
const CHUNK = 8;

/** Django's answer: FILE in chunks of CHUNK bytes, counting the chunks read and whether it was cancelled. */
function upstream(options: { status?: number; contentLength?: boolean } = {}) {
  const stats = { chunksRead: 0, cancelled: false };
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= FILE.length) return controller.close();
      stats.chunksRead += 1;
      controller.enqueue(FILE.slice(offset, offset + CHUNK));
      offset += CHUNK;
    },
    cancel() {
      stats.cancelled = true;
    },
  }, { highWaterMark: 0 });
  const headers = new Headers({ "Content-Type": "audio/wav" });
  if (options.contentLength !== false) headers.set("Content-Length", String(FILE.length));
  return { response: new Response(body, { status: options.status ?? 200, headers }), stats };
}

const request = (range?: string) =>
  ({
    nextUrl: new URL("http://next.test/media/projects/p/audio/s1.wav"),
    headers: new Headers(range ? { range } : {}),
  }) as unknown as NextRequest;

const bytes = async (response: Response) => Array.from(new Uint8Array(await response.arrayBuffer()));
const span = (start: number, end: number) => Array.from(FILE.slice(start, end + 1));

let fetchMock: ReturnType<typeof vi.fn>;
beforeEach(() => {
  fetchMock = vi.fn();
  vi.stubGlobal("fetch", fetchMock);
});
afterEach(() => vi.unstubAllGlobals());

describe("/media route", () => {
  it("answers a Range request with 206 and only those bytes, and stops reading Django's stream after them", async () => {
    const django = upstream();
    fetchMock.mockResolvedValue(django.response);
    const response = await GET(request("bytes=5-14"));
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe("bytes 5-14/100");
    expect(response.headers.get("content-length")).toBe("10");
    expect(response.headers.get("accept-ranges")).toBe("bytes");
    expect(await bytes(response)).toEqual(span(5, 14));
    expect(django.stats.chunksRead).toBe(2); // bytes 0-15, not the whole file
    expect(django.stats.cancelled).toBe(true);
    expect(fetchMock.mock.calls[0][1].headers).toEqual({ range: "bytes=5-14" });
  });

  it("a suffix range and an open-ended range", async () => {
    fetchMock.mockResolvedValueOnce(upstream().response).mockResolvedValueOnce(upstream().response);
    const tail = await GET(request("bytes=-10"));
    expect(tail.headers.get("content-range")).toBe("bytes 90-99/100");
    expect(await bytes(tail)).toEqual(span(90, 99));
    const rest = await GET(request("bytes=40-"));
    expect(rest.headers.get("content-length")).toBe("60");
    expect(await bytes(rest)).toEqual(span(40, 99));
  });

  it("416 for a range past the end", async () => {
    const django = upstream();
    fetchMock.mockResolvedValue(django.response);
    const response = await GET(request("bytes=100-"));
    expect(response.status).toBe(416);
    expect(response.headers.get("content-range")).toBe("bytes */100");
    expect(django.stats.cancelled).toBe(true);
  });

  it("without a Range header, or when Django answers 206 itself, Django's answer passes through", async () => {
    fetchMock.mockResolvedValueOnce(upstream().response);
    const whole = await GET(request());
    expect(whole.status).toBe(200);
    expect(await bytes(whole)).toEqual(span(0, 99));

    fetchMock.mockResolvedValueOnce(upstream({ status: 206 }).response);
    expect((await GET(request("bytes=0-9"))).status).toBe(206);
  });

  it("the whole file (200) when Django gives no size to cut a range from", async () => {
    fetchMock.mockResolvedValue(upstream({ contentLength: false }).response);
    const response = await GET(request("bytes=5-14"));
    expect(response.status).toBe(200);
    expect(await bytes(response)).toEqual(span(0, 99));
  });

  it("HEAD with a Range: the 206 headers, no body, Django's stream cancelled", async () => {
    const django = upstream();
    fetchMock.mockResolvedValue(django.response);
    const response = await HEAD(request("bytes=0-9"));
    expect(response.status).toBe(206);
    expect(response.headers.get("content-range")).toBe("bytes 0-9/100");
    expect(response.body).toBeNull();
    expect(django.stats.cancelled).toBe(true);
  });
});

describe("sliceStream", () => {
  it("a range inside one chunk, and one that ends on a chunk's last byte", async () => {
    expect(await bytes(new Response(sliceStream(upstream().response.body!, { start: 2, end: 3 })))).toEqual(span(2, 3));
    expect(await bytes(new Response(sliceStream(upstream().response.body!, { start: 8, end: 15 })))).toEqual(span(8, 15));
  });
});
