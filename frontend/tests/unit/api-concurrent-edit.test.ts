/** lib/api.ts, issue 11: updateSegment's If-Match and the 412 "changed elsewhere" answer. */
import { describe, expect, it } from "vitest";

import * as api from "@/lib/api";
import { jsonResponse, segmentFixture, stubFetch } from "./helpers";

const fetchMock = stubFetch();

const current = segmentFixture({ text_content: "Written in the other tab.", etag: '"v3"' });
const CHANGED = "The segment changed elsewhere since you loaded it: reload it, or send the write again without If-Match.";

/** The headers of fetch call `index`, as a plain object. */
function headersOf(index = 0): Record<string, string> {
  const init = fetchMock.mock.calls[index][1] as RequestInit;
  return { ...(init.headers as Record<string, string>) };
}

describe("updateSegment with If-Match", () => {
  it("sends the ETag it is given as If-Match, with the JSON body", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, { ...current, text_content: "Mine.", etag: '"v4"' }));
    const saved = await api.updateSegment("s1", { text_content: "Mine." }, { ifMatch: '"v3"' });
    expect(saved.etag).toBe('"v4"');
    const [url, init] = fetchMock.mock.calls[0] as [string, RequestInit];
    expect([url, init.method, JSON.parse(String(init.body))]).toEqual(["/api/segments/s1/", "PATCH", { text_content: "Mine." }]);
    expect(headersOf()).toEqual({ Accept: "application/json", "Content-Type": "application/json", "If-Match": '"v3"' });
  });

  it("sends no If-Match without an ETag (the write always wins, as before)", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(200, current));
    await api.updateSegment("s1", { is_locked: true });
    await api.updateSegment("s1", { text_content: "x" }, { ifMatch: undefined });
    expect(Object.keys(headersOf(0))).not.toContain("If-Match");
    expect(Object.keys(headersOf(1))).not.toContain("If-Match");
  });

  it("rejects a 412 with an ApiError that carries the segment as it is now", async () => {
    fetchMock.mockImplementation(async () => jsonResponse(412, { error: CHANGED, current }));
    const error = await api.updateSegment("s1", { text_content: "Mine." }, { ifMatch: '"v2"' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(api.ApiError);
    expect((error as api.ApiError).status).toBe(412);
    expect((error as api.ApiError).message).toBe(CHANGED);
    expect(api.segmentFromConflict(error)).toEqual(current);
  });
});

describe("segmentFromConflict", () => {
  it("is null for anything but a 412 with a segment", () => {
    expect(api.segmentFromConflict(new api.ApiError(409, { error: "Segment is locked.", current }, "x"))).toBeNull();
    expect(api.segmentFromConflict(new api.ApiError(412, { error: CHANGED }, "x"))).toBeNull();
    expect(api.segmentFromConflict(new api.ApiError(412, "Precondition Failed", "x"))).toBeNull();
    expect(api.segmentFromConflict(new api.ApiError(412, { error: CHANGED, current: { text_content: "no id" } }, "x"))).toBeNull();
    expect(api.segmentFromConflict(new TypeError("Failed to fetch"))).toBeNull();
  });
});
