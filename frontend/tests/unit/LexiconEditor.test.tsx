/**
 * The lexicon page against a mocked API: the rules table, adding a rule (and
 * a 400 shown next to the field it names), editing, deleting, the "Try it"
 * preview marking the rules that applied, and the project being re-read after
 * every change (so the timeline's out-of-date badges follow).
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { LexiconEditor, kindOf } from "@/components/LexiconEditor";
import type { PronunciationRule } from "@/lib/types";
import { jsonResponse } from "./helpers";

type Handler = (init: RequestInit) => Response | Promise<Response>;
let routes: Record<string, Handler>;
let fetchMock: ReturnType<typeof vi.fn>;
let rules: PronunciationRule[];

const rule = (id: string, pattern: string, replacement: string, extra: Partial<PronunciationRule> = {}): PronunciationRule => ({
  id,
  project: "p",
  pattern,
  replacement,
  case_sensitive: false,
  kind: kindOf(replacement),
  created_at: "2026-05-01T10:00:00Z",
  updated_at: "2026-05-01T10:00:00Z",
  ...extra,
});

beforeEach(() => {
  rules = [rule("r1", "Dantès", "Dahn-tess"), rule("r2", "Mercédès", "/mɛɹsˈeɪdɛs/", { case_sensitive: true })];
  let next = 3;
  routes = {
    "GET /api/projects/p/": () => jsonResponse(200, { id: "p", title: "Monte Cristo", segments: [], chapters: [] }),
    "GET /api/projects/p/lexicon/": () => jsonResponse(200, rules),
    "POST /api/projects/p/lexicon/": (init) => {
      const body = JSON.parse(String(init.body));
      if (body.replacement.includes("X")) return jsonResponse(400, { replacement: ["Unknown phoneme symbols: 'X'."] });
      if (body.pattern === "!!") return jsonResponse(400, { pattern: ["The pattern must contain a letter or digit."] });
      const created = rule(`r${next++}`, body.pattern, body.replacement, { case_sensitive: body.case_sensitive });
      rules = [...rules, created];
      return jsonResponse(201, created);
    },
    "PATCH /api/projects/p/lexicon/r1/": (init) => {
      rules = rules.map((known) => (known.id === "r1" ? { ...known, ...JSON.parse(String(init.body)) } : known));
      return jsonResponse(200, rules[0]);
    },
    "DELETE /api/projects/p/lexicon/r2/": () => {
      rules = rules.filter((known) => known.id !== "r2");
      return jsonResponse(204);
    },
    "POST /api/speech/preview/": (init) => {
      const { text } = JSON.parse(String(init.body));
      let spoken = text;
      const applied: string[] = [];
      for (const known of rules) {
        if (spoken.includes(known.pattern)) {
          spoken = spoken.replace(known.pattern, known.replacement);
          applied.push(known.id);
        }
      }
      return jsonResponse(200, { spoken_text: spoken, phonemes: "…", token_count: 10, rules_applied: applied });
    },
  };
  fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const key = `${init.method ?? "GET"} ${url}`;
    const handler = routes[key];
    return handler ? handler(init) : jsonResponse(404, { error: `no route for ${key}` });
  });
  vi.stubGlobal("fetch", fetchMock);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const calls = (key: string) =>
  fetchMock.mock.calls.filter(([url, init]) => `${(init as RequestInit | undefined)?.method ?? "GET"} ${url}` === key);
const bodyOf = (call: unknown[]) => JSON.parse(String((call[1] as RequestInit).body));

function renderPage() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <LexiconEditor projectId="p" />
    </QueryClientProvider>,
  );
}

const rows = () => screen.getAllByTestId("lexicon-rule");
const cellTexts = (row: HTMLElement) => within(row).getAllByRole("cell").slice(0, 4).map((cell) => cell.textContent);

describe("rules table", () => {
  it("lists pattern, replacement, case-sensitive and kind; links back to the project", async () => {
    renderPage();
    await waitFor(() => expect(rows()).toHaveLength(2));
    expect(cellTexts(rows()[0])).toEqual(["Dantès", "Dahn-tess", "No", "Respelling"]);
    expect(cellTexts(rows()[1])).toEqual(["Mercédès", "/mɛɹsˈeɪdɛs/", "Yes", "Phonemes"]);
    expect(within(screen.getByRole("table")).getAllByRole("columnheader").map((th) => th.textContent?.trim())).toEqual([
      "Pattern",
      "Replacement",
      "Case-sensitive",
      "Kind",
      "Actions",
    ]);
    expect((await screen.findByRole("link", { name: "← Monte Cristo" })).getAttribute("href")).toBe("/projects/p");
  });
});

describe("add", () => {
  it("POSTs the rule, lists it, clears the form and re-reads the project", async () => {
    renderPage();
    await waitFor(() => expect(rows()).toHaveLength(2));
    const projectReads = calls("GET /api/projects/p/").length;
    const form = screen.getByRole("form", { name: "New rule" });
    fireEvent.change(within(form).getByLabelText("New rule: pattern"), { target: { value: "Villefort" } });
    fireEvent.change(within(form).getByLabelText("New rule: replacement"), { target: { value: "/vilfˈɔːɹ/" } });
    expect(within(form).getByTestId("kind-hint").textContent).toMatch(/^Phonemes/);
    fireEvent.click(within(form).getByLabelText("New rule: case-sensitive"));
    fireEvent.click(within(form).getByRole("button", { name: "Add rule" }));

    await waitFor(() => expect(rows()).toHaveLength(3));
    expect(calls("POST /api/projects/p/lexicon/").map(bodyOf)).toEqual([
      { pattern: "Villefort", replacement: "/vilfˈɔːɹ/", case_sensitive: true },
    ]);
    expect(cellTexts(rows()[2])).toEqual(["Villefort", "/vilfˈɔːɹ/", "Yes", "Phonemes"]);
    expect((within(form).getByLabelText("New rule: pattern") as HTMLInputElement).value).toBe("");
    await waitFor(() => expect(calls("GET /api/projects/p/").length).toBeGreaterThan(projectReads));
  });

  it("a 400 is shown next to the field it names, and nothing is added", async () => {
    renderPage();
    await waitFor(() => expect(rows()).toHaveLength(2));
    const form = screen.getByRole("form", { name: "New rule" });
    const replacement = within(form).getByLabelText("New rule: replacement");
    fireEvent.change(within(form).getByLabelText("New rule: pattern"), { target: { value: "Faria" } });
    fireEvent.change(replacement, { target: { value: "/fXɹiə/" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add rule" }));

    const error = await within(form).findByTestId("error-replacement");
    expect(error.textContent).toBe("Unknown phoneme symbols: 'X'.");
    expect(error.closest("label")).toBe(replacement.closest("label")); // next to its field
    expect(replacement.getAttribute("aria-invalid")).toBe("true");
    expect(within(form).queryByTestId("error-pattern")).toBeNull();
    expect(rows()).toHaveLength(2);

    fireEvent.change(within(form).getByLabelText("New rule: pattern"), { target: { value: "!!" } });
    expect(within(form).queryByTestId("error-replacement")).toBeNull(); // editing clears it
    fireEvent.change(replacement, { target: { value: "fah-ree-ah" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add rule" }));
    const patternError = await within(form).findByTestId("error-pattern");
    expect(patternError.textContent).toBe("The pattern must contain a letter or digit.");
    expect(patternError.closest("label")).toBe(within(form).getByLabelText("New rule: pattern").closest("label"));
  });
});

describe("edit and delete", () => {
  it("Edit opens the rule in a form; Save PATCHes it", async () => {
    renderPage();
    await waitFor(() => expect(rows()).toHaveLength(2));
    fireEvent.click(screen.getByRole("button", { name: "Edit rule Dantès" }));
    const form = screen.getByRole("form", { name: "Rule 1" });
    expect((within(form).getByLabelText("Rule 1: replacement") as HTMLInputElement).value).toBe("Dahn-tess");
    fireEvent.change(within(form).getByLabelText("Rule 1: replacement"), { target: { value: "Don-tess" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save rule" }));
    await waitFor(() => expect(cellTexts(rows()[0])[1]).toBe("Don-tess"));
    expect(calls("PATCH /api/projects/p/lexicon/r1/").map(bodyOf)).toEqual([
      { pattern: "Dantès", replacement: "Don-tess", case_sensitive: false },
    ]);
  });

  it("Delete asks first, then DELETEs", async () => {
    renderPage();
    await waitFor(() => expect(rows()).toHaveLength(2));
    fireEvent.click(within(rows()[1]).getByRole("button", { name: "Delete" }));
    fireEvent.click(within(rows()[1]).getByRole("button", { name: "Yes, delete" }));
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(calls("DELETE /api/projects/p/lexicon/r2/")).toHaveLength(1);
  });
});

describe("Try it", () => {
  it("reads a sentence with the project's rules and marks the rules that applied; a new rule refreshes it", async () => {
    renderPage();
    await waitFor(() => expect(rows()).toHaveLength(2));
    fireEvent.change(screen.getByLabelText("Sentence to try"), { target: { value: "Dantès met Faria." } });
    fireEvent.click(screen.getByRole("button", { name: "Preview" }));
    expect((await screen.findByTestId("spoken-text")).textContent).toBe("Dahn-tess met Faria.");
    expect(bodyOf(calls("POST /api/speech/preview/")[0])).toEqual({ text: "Dantès met Faria.", project: "p" });
    await waitFor(() => expect(rows()[0].className).toBe("rule-applied"));
    expect(rows()[1].className).toBe("");

    const form = screen.getByRole("form", { name: "New rule" });
    fireEvent.change(within(form).getByLabelText("New rule: pattern"), { target: { value: "Faria" } });
    fireEvent.change(within(form).getByLabelText("New rule: replacement"), { target: { value: "Fah-ree-ah" } });
    fireEvent.click(within(form).getByRole("button", { name: "Add rule" }));
    await waitFor(() => expect(screen.getByTestId("spoken-text").textContent).toBe("Dahn-tess met Fah-ree-ah."));
  });
});
