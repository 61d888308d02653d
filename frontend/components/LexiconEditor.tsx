"use client";
/**
 * A project's pronunciation lexicon (issue 9): the rules as a table
 * (pattern, replacement, case-sensitive, kind), add, edit and delete, and a
 * "Try it" box that reads a sentence through `POST /api/speech/preview/` with
 * this project's rules (the rules that matched are marked in the table).
 *
 * A rule reads `pattern` (a word or phrase, matched on word boundaries) as
 * `replacement`: a respelling ("Dahn-tess"), or phonemes written `/…/` that
 * go to the model as they are. A 400 names the bad field and its message is
 * shown next to that field. Every change re-reads the project, so the
 * timeline's "Out of date" badges follow (see `useCreatePronunciationRule`).
 */
import Link from "next/link";
import { useState } from "react";

import {
  useCreatePronunciationRule,
  useDeletePronunciationRule,
  useProject,
  usePronunciationRules,
  useSpeechPreview,
  useUpdatePronunciationRule,
} from "@/hooks/useApi";
import { fieldErrors } from "@/lib/api";
import { errorMessage } from "@/lib/format";
import type { PronunciationKind, PronunciationRule, PronunciationRuleCreate } from "@/lib/types";
import { ConfirmDelete } from "./ConfirmDelete";
import { SpokenText } from "./SpokenText";

/** How each kind of replacement is named in the table. */
export const KIND_LABELS: Record<PronunciationKind, string> = {
  respelling: "Respelling",
  phonemes: "Phonemes",
};

/** The kind a replacement will have, as the backend decides it: `/…/` is phonemes, anything else a respelling. */
export function kindOf(replacement: string): PronunciationKind {
  const text = replacement.trim();
  return text.length >= 2 && text.startsWith("/") && text.endsWith("/") ? "phonemes" : "respelling";
}

/** The fields a rule form shows errors for; anything else in a 400 is shown under the form. */
const RULE_FIELDS = ["pattern", "replacement", "case_sensitive"] as const;

export interface RuleFormProps {
  /** The rule being edited, or undefined for a new one. */
  rule?: Pick<PronunciationRule, "pattern" | "replacement" | "case_sensitive">;
  submitLabel: string;
  /** Create or update; rejects with the API error. */
  onSubmit: (rule: Required<PronunciationRuleCreate>) => Promise<unknown>;
  onCancel?: () => void;
  /** Prefix of the inputs' accessible names, e.g. "New rule" or "Rule 2". */
  label: string;
}

/** The add/edit form of one rule, with each 400 field error under its field. */
export function RuleForm({ rule, submitLabel, onSubmit, onCancel, label }: RuleFormProps) {
  const [pattern, setPattern] = useState(rule?.pattern ?? "");
  const [replacement, setReplacement] = useState(rule?.replacement ?? "");
  const [caseSensitive, setCaseSensitive] = useState(rule?.case_sensitive ?? false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const clearErrors = () => {
    setErrors({});
    setGeneral(null);
  };

  const submit = async () => {
    setSaving(true);
    clearErrors();
    try {
      await onSubmit({ pattern: pattern.trim(), replacement: replacement.trim(), case_sensitive: caseSensitive });
      if (!rule) {
        setPattern("");
        setReplacement("");
        setCaseSensitive(false);
      }
    } catch (error) {
      const fields = fieldErrors(error);
      if (!fields) {
        setGeneral(errorMessage(error));
        return;
      }
      const known: Record<string, string> = {};
      const rest: string[] = [];
      for (const [field, text] of Object.entries(fields)) {
        if ((RULE_FIELDS as readonly string[]).includes(field)) known[field] = text;
        else rest.push(text);
      }
      setErrors(known);
      setGeneral(rest.length ? rest.join(" ") : null);
    } finally {
      setSaving(false);
    }
  };

  const fieldError = (field: string) =>
    errors[field] ? (
      <span className="inline-error field-error" role="alert" data-testid={`error-${field}`}>
        {errors[field]}
      </span>
    ) : null;

  return (
    <form
      className="rule-form"
      aria-label={label}
      onSubmit={(event) => {
        event.preventDefault();
        if (pattern.trim() && replacement.trim()) submit();
      }}
    >
      <label className="field">
        <span>Word or phrase</span>
        <input
          value={pattern}
          onChange={(event) => {
            setPattern(event.target.value);
            clearErrors();
          }}
          aria-label={`${label}: pattern`}
          aria-invalid={!!errors.pattern}
          placeholder="Dantès"
          maxLength={200}
        />
        {fieldError("pattern")}
      </label>
      <label className="field">
        <span>
          Read as <span className="small">(a respelling, or phonemes between slashes)</span>
        </span>
        <input
          value={replacement}
          onChange={(event) => {
            setReplacement(event.target.value);
            clearErrors();
          }}
          aria-label={`${label}: replacement`}
          aria-invalid={!!errors.replacement}
          placeholder="Dahn-tess  or  /dɑːntˈɛs/"
          maxLength={500}
        />
        {replacement.trim() ? (
          <span className="small muted" data-testid="kind-hint">
            {KIND_LABELS[kindOf(replacement)]}
            {kindOf(replacement) === "phonemes" ? ": given to the model as they are" : ": read like ordinary text"}
          </span>
        ) : null}
        {fieldError("replacement")}
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={caseSensitive}
          onChange={(event) => {
            setCaseSensitive(event.target.checked);
            clearErrors();
          }}
          aria-label={`${label}: case-sensitive`}
        />
        Case-sensitive
      </label>
      {fieldError("case_sensitive")}
      <div className="form-row">
        <button type="submit" className="button small primary" disabled={saving || !pattern.trim() || !replacement.trim()}>
          {saving ? "Saving…" : submitLabel}
        </button>
        {onCancel ? (
          <button type="button" className="button small quiet" onClick={onCancel} disabled={saving}>
            Cancel
          </button>
        ) : null}
        {general ? (
          <span className="inline-error" role="alert">
            {general}
          </span>
        ) : null}
      </div>
    </form>
  );
}

/** The lexicon page of one project. */
export function LexiconEditor({ projectId }: { projectId: string }) {
  const project = useProject(projectId);
  const rules = usePronunciationRules(projectId);
  const create = useCreatePronunciationRule(projectId);
  const update = useUpdatePronunciationRule(projectId);
  const remove = useDeletePronunciationRule(projectId);

  const [editing, setEditing] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [rowError, setRowError] = useState<{ ruleId: string; text: string } | null>(null);
  const [sentence, setSentence] = useState("");
  const [tried, setTried] = useState("");
  // Shares the cache entry of the SpokenText below: the matched rules are marked in the table.
  const trial = useSpeechPreview(tried ? { text: tried, project: projectId } : null);
  const applied = new Set(trial.data && !trial.isPlaceholderData ? trial.data.rules_applied : []);

  const deleteRule = (ruleId: string) => {
    setConfirming(null);
    setRowError(null);
    remove.mutate(ruleId, { onError: (error) => setRowError({ ruleId, text: `Could not delete: ${errorMessage(error)}` }) });
  };

  return (
    <div className="lexicon">
      <div className="page-head">
        <Link href={`/projects/${projectId}`} className="back">
          ← {project.data?.title ?? "Project"}
        </Link>
        <h1>Pronunciation lexicon</h1>
        <p className="muted">
          Teach the narrator how to say names and words of this project. A rule matches whole words (or a phrase), after
          numbers, dates and abbreviations have been put into words. Segments whose text a changed rule matches are marked
          out of date.
        </p>
      </div>

      <div className="columns">
        <div>
          <section className="panel" aria-labelledby="rules-heading">
            <h2 id="rules-heading">Rules</h2>
            {rules.isPending ? <p className="muted">Loading…</p> : null}
            {rules.isError ? (
              <p className="inline-error" role="alert">
                Could not load the rules: {rules.error.message}
              </p>
            ) : null}
            {rules.data && !rules.data.length ? <p className="muted" data-testid="no-rules">No rules yet.</p> : null}
            {rules.data?.length ? (
              <table className="lexicon-table" data-testid="lexicon-table">
                <thead>
                  <tr>
                    <th scope="col">Pattern</th>
                    <th scope="col">Replacement</th>
                    <th scope="col">Case-sensitive</th>
                    <th scope="col">Kind</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rules.data.map((rule, index) =>
                    editing === rule.id ? (
                      <tr key={rule.id} data-testid="lexicon-rule" data-rule-id={rule.id}>
                        <td colSpan={5}>
                          <RuleForm
                            label={`Rule ${index + 1}`}
                            rule={rule}
                            submitLabel="Save rule"
                            onSubmit={async (changes) => {
                              await update.mutateAsync({ ruleId: rule.id, changes });
                              setEditing(null);
                            }}
                            onCancel={() => setEditing(null)}
                          />
                        </td>
                      </tr>
                    ) : (
                      <tr
                        key={rule.id}
                        data-testid="lexicon-rule"
                        data-rule-id={rule.id}
                        className={applied.has(rule.id) ? "rule-applied" : undefined}
                      >
                        <td data-testid="rule-pattern">{rule.pattern}</td>
                        <td data-testid="rule-replacement">
                          {rule.kind === "phonemes" ? <code>{rule.replacement}</code> : rule.replacement}
                        </td>
                        <td data-testid="rule-case">{rule.case_sensitive ? "Yes" : "No"}</td>
                        <td data-testid="rule-kind">
                          {KIND_LABELS[rule.kind] ?? rule.kind}
                          {applied.has(rule.id) ? (
                            <span className="badge badge-ready applied-chip" title="Used in the sentence tried below">
                              applied
                            </span>
                          ) : null}
                        </td>
                        <td className="rule-actions">
                          <button
                            type="button"
                            className="button small quiet"
                            onClick={() => {
                              setEditing(rule.id);
                              setConfirming(null);
                            }}
                            aria-label={`Edit rule ${rule.pattern}`}
                          >
                            Edit
                          </button>
                          <ConfirmDelete
                            confirming={confirming === rule.id}
                            onAsk={() => setConfirming(rule.id)}
                            onKeep={() => setConfirming(null)}
                            onConfirm={() => deleteRule(rule.id)}
                            question={`Delete “${rule.pattern}”?`}
                            busy={remove.isPending}
                          />
                          {rowError?.ruleId === rule.id ? (
                            <span className="inline-error" role="alert">
                              {rowError.text}
                            </span>
                          ) : null}
                        </td>
                      </tr>
                    ),
                  )}
                </tbody>
              </table>
            ) : null}
          </section>
        </div>

        <div>
          <section className="panel" aria-labelledby="add-rule-heading">
            <h2 id="add-rule-heading">Add a rule</h2>
            <RuleForm label="New rule" submitLabel="Add rule" onSubmit={(rule) => create.mutateAsync(rule)} />
          </section>

          <section className="panel" aria-labelledby="try-heading">
            <h2 id="try-heading">Try it</h2>
            <form
              onSubmit={(event) => {
                event.preventDefault();
                setTried(sentence.trim());
              }}
            >
              <label className="field">
                <span>A sentence, read with this project&apos;s rules</span>
                <textarea
                  value={sentence}
                  onChange={(event) => setSentence(event.target.value)}
                  rows={3}
                  aria-label="Sentence to try"
                  placeholder="On the 24th of February, 1815, M. Dantès came home."
                />
              </label>
              <div className="form-row">
                <button type="submit" className="button small" disabled={!sentence.trim()}>
                  Preview
                </button>
              </div>
            </form>
            {tried ? <SpokenText text={tried} projectId={projectId} title="Spoken as" /> : null}
          </section>
        </div>
      </div>
    </div>
  );
}
