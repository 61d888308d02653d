/**
 * The voice picker against a mocked API: the inherit option and the installed
 * voices, building a blend (canonical string, the max_blend_voices limit),
 * the speed (blank = inherit, range), Save's {voice, speed}, a 400's field
 * error next to its field, and Play sample (the WAV played through an object
 * URL that is revoked afterwards; a 503's message).
 */
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { VoicePicker, choiceOf, draftOf, type VoiceChoice, type VoicePickerProps } from "@/components/VoicePicker";
import { ApiError } from "@/lib/api";
import { jsonResponse } from "./helpers";

type Handler = (init: RequestInit) => Response | Promise<Response>;
let routes: Record<string, Handler>;
let fetchMock: ReturnType<typeof vi.fn>;
let played: HTMLMediaElement[];
const createObjectURL = vi.fn((_: Blob) => "blob:sample-1");
const revokeObjectURL = vi.fn((_: string) => undefined);

const VOICES = ["af_heart", "af_bella", "am_adam", "bf_emma"];

beforeEach(() => {
  routes = {
    "GET /api/voices/": () =>
      jsonResponse(200, { voices: VOICES, default_voice_id: "af_heart", model_available: true, model_variant: "q8", max_blend_voices: 3 }),
    "POST /api/voices/preview/": () => new Response(new Uint8Array([82, 73, 70, 70]), { status: 200, headers: { "Content-Type": "audio/wav" } }),
  };
  fetchMock = vi.fn(async (url: string, init: RequestInit = {}) => {
    const key = `${init.method ?? "GET"} ${url}`;
    const handler = routes[key];
    return handler ? handler(init) : jsonResponse(404, { error: `no route for ${key}` });
  });
  vi.stubGlobal("fetch", fetchMock);
  played = [];
  vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(async function (this: HTMLMediaElement) {
    played.push(this);
  });
  vi.spyOn(HTMLMediaElement.prototype, "pause").mockImplementation(() => undefined);
  createObjectURL.mockClear();
  revokeObjectURL.mockClear();
  Object.assign(URL, { createObjectURL, revokeObjectURL });
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const calls = (key: string) =>
  fetchMock.mock.calls.filter(([url, init]) => `${(init as RequestInit | undefined)?.method ?? "GET"} ${url}` === key);
const bodyOf = (call: unknown[]) => JSON.parse(String((call[1] as RequestInit).body));

function renderPicker(props: Partial<VoicePickerProps> = {}) {
  const onSave = vi.fn(async (_: VoiceChoice) => undefined);
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const view = render(
    <QueryClientProvider client={client}>
      <VoicePicker
        label="Project voice"
        value={{ voice: null, speed: null }}
        inherited={{ voice: "af_heart", speed: 1, from: "Settings" }}
        onSave={onSave}
        {...props}
      />
    </QueryClientProvider>,
  );
  return { onSave, view, client };
}

const voiceSelect = () => screen.getByLabelText("Voice") as HTMLSelectElement;
const saveButton = () => screen.getByRole("button", { name: "Save voice" });
const waitForVoices = () => waitFor(() => expect(within(voiceSelect()).getByRole("option", { name: "bf_emma" })).toBeTruthy());

describe("voice choice", () => {
  it("offers the inherited default, every installed voice and a blend", async () => {
    renderPicker();
    await waitForVoices();
    const options = within(voiceSelect()).getAllByRole("option").map((option) => option.textContent);
    expect(options).toEqual(["Default (inherit: af_heart)", ...VOICES, "Blend of voices…"]);
    expect(voiceSelect().value).toBe("");
    expect(saveButton()).toHaveProperty("disabled", true); // nothing changed
  });

  it("saves a single voice and a speed; blank speed and the default voice save null", async () => {
    const { onSave } = renderPicker();
    await waitForVoices();
    fireEvent.change(voiceSelect(), { target: { value: "am_adam" } });
    fireEvent.change(screen.getByLabelText("Speed"), { target: { value: "1.25" } });
    fireEvent.click(saveButton());
    await waitFor(() => expect(onSave).toHaveBeenCalledWith({ voice: "am_adam", speed: 1.25 }));
    expect(await screen.findByText("Saved.")).toBeTruthy();
  });

  it("shows a saved blend in the blend editor and going back to Default saves null", async () => {
    const { onSave } = renderPicker({ value: { voice: "af_bella:0.6+am_adam:0.4", speed: 0.9 } });
    await waitForVoices();
    expect(voiceSelect().value).toBe("__blend__");
    const rows = screen.getAllByTestId("blend-row");
    expect(rows).toHaveLength(2);
    expect((screen.getByLabelText("Blend voice 1") as HTMLSelectElement).value).toBe("af_bella");
    expect((screen.getByLabelText("Weight of blend voice 2") as HTMLInputElement).value).toBe("0.4");
    expect(screen.getByTestId("blend-string").textContent).toBe("af_bella:0.6+am_adam:0.4");
    expect(saveButton()).toHaveProperty("disabled", true);

    fireEvent.change(voiceSelect(), { target: { value: "" } });
    fireEvent.change(screen.getByLabelText("Speed"), { target: { value: "" } });
    fireEvent.click(saveButton());
    await waitFor(() => expect(onSave).toHaveBeenCalledWith({ voice: null, speed: null }));
  });
});

describe("blend editor", () => {
  it("builds the canonical string from voices and weights, up to max_blend_voices", async () => {
    const { onSave } = renderPicker({ value: { voice: "am_adam", speed: null } });
    await waitForVoices();
    fireEvent.change(voiceSelect(), { target: { value: "__blend__" } });
    // Seeded with the current voice and an empty row to fill in.
    expect((screen.getByLabelText("Blend voice 1") as HTMLSelectElement).value).toBe("am_adam");
    expect(screen.getByTestId("voice-error").textContent).toBe("Choose a voice for row 2 of the blend.");
    expect(saveButton()).toHaveProperty("disabled", true);

    fireEvent.change(screen.getByLabelText("Blend voice 2"), { target: { value: "af_bella" } });
    fireEvent.change(screen.getByLabelText("Weight of blend voice 1"), { target: { value: "2" } });
    fireEvent.change(screen.getByLabelText("Weight of blend voice 2"), { target: { value: "3" } });
    expect(screen.getByTestId("blend-string").textContent).toBe("af_bella:0.6+am_adam:0.4");
    expect(screen.queryByTestId("voice-error")).toBeNull();
    // A voice already in the blend cannot be picked again in another row.
    const adamInRow2 = within(screen.getByLabelText("Blend voice 2")).getByRole("option", { name: "am_adam" }) as HTMLOptionElement;
    expect(adamInRow2.disabled).toBe(true);

    const add = screen.getByRole("button", { name: "Add voice" });
    fireEvent.click(add);
    expect(screen.getAllByTestId("blend-row")).toHaveLength(3);
    expect(add).toHaveProperty("disabled", true); // max_blend_voices = 3
    fireEvent.change(screen.getByLabelText("Blend voice 3"), { target: { value: "bf_emma" } });
    fireEvent.change(screen.getByLabelText("Weight of blend voice 3"), { target: { value: "5" } });
    expect(screen.getByTestId("blend-string").textContent).toBe("af_bella:0.3+am_adam:0.2+bf_emma:0.5");
    fireEvent.click(screen.getByRole("button", { name: "Remove blend voice 3" }));
    expect(screen.getByTestId("blend-string").textContent).toBe("af_bella:0.6+am_adam:0.4");

    fireEvent.click(saveButton());
    await waitFor(() => expect(onSave).toHaveBeenCalledWith({ voice: "af_bella:0.6+am_adam:0.4", speed: null }));
  });

  it("a weight that is not a positive number is named and blocks Save", async () => {
    renderPicker({ value: { voice: "af_bella:0.5+am_adam:0.5", speed: null } });
    await waitForVoices();
    fireEvent.change(screen.getByLabelText("Weight of blend voice 2"), { target: { value: "0" } });
    expect(screen.getByTestId("voice-error").textContent).toBe('The weight of "am_adam" must be a positive number, got "0".');
    expect(screen.queryByTestId("blend-string")).toBeNull();
    expect(saveButton()).toHaveProperty("disabled", true);
  });
});

describe("errors", () => {
  it("a 400's voice error is shown next to the voice, a speed error next to the speed", async () => {
    const { onSave } = renderPicker();
    await waitForVoices();
    onSave.mockRejectedValueOnce(
      new ApiError(400, { voice: ["Unknown voice 'bf_emma'; available voices: af_heart."] }, "Bad Request"),
    );
    fireEvent.change(voiceSelect(), { target: { value: "bf_emma" } });
    fireEvent.click(saveButton());
    const voiceError = await screen.findByTestId("voice-error");
    expect(voiceError.textContent).toBe("Unknown voice 'bf_emma'; available voices: af_heart.");
    expect(voiceSelect().getAttribute("aria-describedby")).toBe(voiceError.id);
    expect(screen.queryByText("Saved.")).toBeNull();

    onSave.mockRejectedValueOnce(new ApiError(400, { speed: ["Ensure this value is less than or equal to 2.0."] }, "Bad Request"));
    fireEvent.change(voiceSelect(), { target: { value: "af_bella" } });
    expect(screen.queryByTestId("voice-error")).toBeNull(); // an edit clears the old error
    fireEvent.click(saveButton());
    expect((await screen.findByTestId("speed-error")).textContent).toBe("Ensure this value is less than or equal to 2.0.");
  });

  it("a speed outside 0.5–2.0 is named before sending", async () => {
    const { onSave } = renderPicker();
    await waitForVoices();
    fireEvent.change(screen.getByLabelText("Speed"), { target: { value: "3" } });
    expect(screen.getByTestId("speed-error").textContent).toBe("Speed must be a number from 0.5 to 2.");
    expect(saveButton()).toHaveProperty("disabled", true);
    expect(onSave).not.toHaveBeenCalled();
  });

  it("a failure that names no field is shown below the buttons", async () => {
    const { onSave } = renderPicker();
    await waitForVoices();
    onSave.mockRejectedValueOnce(new ApiError(409, { error: "Segment is locked" }, "Conflict"));
    fireEvent.change(voiceSelect(), { target: { value: "af_bella" } });
    fireEvent.click(saveButton());
    expect((await screen.findByRole("alert")).textContent).toBe("Could not save: Segment is locked");
  });
});

describe("Play sample", () => {
  it("plays the chosen (unsaved) voice at the inherited speed through an object URL, revoked when it ends", async () => {
    renderPicker({ value: { voice: "af_bella:0.5+am_adam:0.5", speed: null }, inherited: { voice: "af_heart", speed: 1.1, from: "the project" } });
    await waitForVoices();
    fireEvent.change(screen.getByLabelText("Weight of blend voice 1"), { target: { value: "3" } });
    fireEvent.change(screen.getByLabelText("Weight of blend voice 2"), { target: { value: "1" } });
    fireEvent.click(screen.getByRole("button", { name: "Play sample" }));
    await waitFor(() => expect(played).toHaveLength(1));
    expect(calls("POST /api/voices/preview/").map(bodyOf)).toEqual([{ voice: "af_bella:0.75+am_adam:0.25", speed: 1.1 }]);
    expect(createObjectURL).toHaveBeenCalledTimes(1);
    const blob = createObjectURL.mock.calls[0][0];
    expect(blob.type).toBe("audio/wav"); // the fetched WAV itself (Node's Blob, not jsdom's)
    expect(blob.size).toBe(4);
    expect(played[0].src).toBe("blob:sample-1");
    expect(screen.getByRole("button", { name: "Stop sample" })).toBeTruthy();
    expect(revokeObjectURL).not.toHaveBeenCalled();

    act(() => {
      played[0].dispatchEvent(new Event("ended"));
    });
    expect(revokeObjectURL).toHaveBeenCalledWith("blob:sample-1");
    expect(screen.getByRole("button", { name: "Play sample" })).toBeTruthy();
  });

  it("with Default chosen, plays the inherited voice; unmounting while it plays revokes the URL", async () => {
    const { view } = renderPicker({ inherited: { voice: "bf_emma", speed: 0.8, from: "Settings" } });
    await waitForVoices();
    fireEvent.click(screen.getByRole("button", { name: "Play sample" }));
    await waitFor(() => expect(played).toHaveLength(1));
    expect(bodyOf(calls("POST /api/voices/preview/")[0])).toEqual({ voice: "bf_emma", speed: 0.8 });
    view.unmount();
    expect(revokeObjectURL).toHaveBeenCalledWith("blob:sample-1");
  });

  it("shows the 503's message when no model is installed", async () => {
    routes["POST /api/voices/preview/"] = () => jsonResponse(503, { error: "No TTS model is installed." });
    renderPicker();
    await waitForVoices();
    fireEvent.click(screen.getByRole("button", { name: "Play sample" }));
    expect((await screen.findByTestId("sample-error")).textContent).toBe("No TTS model is installed.");
    expect(createObjectURL).not.toHaveBeenCalled();
  });
});

describe("draftOf / choiceOf", () => {
  it("round-trips saved choices", () => {
    for (const value of [
      { voice: null, speed: null },
      { voice: "af_heart", speed: 1.5 },
      { voice: "af_bella:0.6+am_adam:0.4", speed: null },
    ]) {
      expect(choiceOf(draftOf(value))).toEqual({ choice: value });
    }
  });
});
