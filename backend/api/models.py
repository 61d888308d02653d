"""StoryFlow's data model: a Project is an ordered list of Segments; GlobalSettings holds voice and speed."""
import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, router, transaction
from django.db.models.functions import Coalesce

from core_engine.lexicon import MAX_PATTERN_LENGTH, MAX_REPLACEMENT_LENGTH, LexiconRule, replacement_kind
from core_engine.tts_wrapper import MAX_SPEED, MIN_SPEED
from core_engine.voices import MAX_VOICE_SPEC_LENGTH

#: Longest segment text accepted by the API, in characters. A segment is one
#: paragraph; 10,000 characters is about 11 minutes of narration, far above any
#: paragraph of the bundled stories (the longest is 1,614 characters).
MAX_SEGMENT_TEXT_LENGTH = 10_000

#: Allowed TTS speed factor: the engine's range (kokoro-onnx rejects speeds outside 0.5–2.0).
MIN_TTS_SPEED, MAX_TTS_SPEED = MIN_SPEED, MAX_SPEED

#: Voice used when GlobalSettings is first created. It exists in both the bundled
#: voices (voices_ja.npz) and the official voices-v1.0.bin.
DEFAULT_VOICE_ID = "jf_alpha"

#: Default pacing of a project, seconds. 0.6 s between paragraphs and 2 s before a
#: chapter are what narrated audiobooks commonly use (a paragraph pause about
#: twice a sentence pause, a chapter break clearly longer); the lead-in and tail
#: sit inside ACX's room-tone windows (0.5–1 s at the head, 1–5 s at the tail).
DEFAULT_PARAGRAPH_PAUSE = 0.6
DEFAULT_CHAPTER_PAUSE = 2.0
DEFAULT_LEAD_IN = 0.75
DEFAULT_TAIL = 2.0
#: Longest pause a project may set, seconds.
MAX_PAUSE_SECONDS = 10.0
#: Longest chapter title, characters.
MAX_CHAPTER_TITLE_LENGTH = 255
#: Longest voice string (an id or a blend of up to 5 voices), characters.
MAX_VOICE_LENGTH = MAX_VOICE_SPEC_LENGTH


class ProjectQuerySet(models.QuerySet):
    """Queries over projects."""

    def with_audio_totals(self) -> "ProjectQuerySet":
        """Annotate ``segment_count`` and ``total_audio_duration`` (seconds, 0.0 when no audio)."""
        return self.annotate(
            segment_count=models.Count("segments"),
            total_audio_duration=Coalesce(models.Sum("segments__audio_duration"), 0.0),
        )


class Project(models.Model):
    """A story being narrated: a title and its ordered segments (``project.segments``)."""

    objects = ProjectQuerySet.as_manager()

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255)
    author = models.CharField(max_length=255, blank=True, default="")
    #: Pacing, seconds of silence: between paragraphs, before a new chapter
    #: (instead of the paragraph pause), at the very start and the very end of
    #: the book. Used by export and the editor's "Play all".
    paragraph_pause = models.FloatField(
        default=DEFAULT_PARAGRAPH_PAUSE, validators=[MinValueValidator(0.0), MaxValueValidator(MAX_PAUSE_SECONDS)]
    )
    chapter_pause = models.FloatField(
        default=DEFAULT_CHAPTER_PAUSE, validators=[MinValueValidator(0.0), MaxValueValidator(MAX_PAUSE_SECONDS)]
    )
    lead_in = models.FloatField(
        default=DEFAULT_LEAD_IN, validators=[MinValueValidator(0.0), MaxValueValidator(MAX_PAUSE_SECONDS)]
    )
    tail = models.FloatField(
        default=DEFAULT_TAIL, validators=[MinValueValidator(0.0), MaxValueValidator(MAX_PAUSE_SECONDS)]
    )
    #: Narration voice (an id or a blend "jf_alpha:0.6+jm_kumo:0.4", canonical) and speed
    #: factor of the project; null inherits GlobalSettings' ``default_voice_id`` / ``tts_speed``.
    voice = models.CharField(max_length=MAX_VOICE_LENGTH, null=True, blank=True, default=None)
    speed = models.FloatField(
        null=True, blank=True, default=None,
        validators=[MinValueValidator(MIN_TTS_SPEED), MaxValueValidator(MAX_TTS_SPEED)],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.title


#: The segment fields a client writes (the API's writable fields); a save of any of them bumps ``Segment.version``.
VERSIONED_SEGMENT_FIELDS = frozenset(
    {"project", "project_id", "sequence_index", "text_content", "is_locked", "chapter_title", "voice", "speed"}
)


class Segment(models.Model):
    """One narrated unit of a project, usually a paragraph.

    ``audio_file`` holds the URL path of the generated WAV
    (``/media/projects/{project_id}/audio/{segment_id}.wav``, spec §10.5), or
    null when there is no audio; ``audio_duration`` is its length in seconds.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="segments")
    sequence_index = models.PositiveIntegerField(default=0)
    text_content = models.TextField(blank=True, default="")
    is_locked = models.BooleanField(default=False)
    audio_file = models.CharField(max_length=500, null=True, blank=True, default=None)
    audio_duration = models.FloatField(null=True, blank=True, default=None)
    #: Sentence timings of the audio: ``[{"start": s, "end": s, "text": str}]``,
    #: seconds from the start of this segment's WAV; written with ``audio_file``.
    audio_cues = models.JSONField(null=True, blank=True, default=None)
    #: A segment with a chapter title starts a chapter of that title (it is narrated too).
    chapter_title = models.CharField(max_length=MAX_CHAPTER_TITLE_LENGTH, null=True, blank=True, default=None)
    #: The segment's own voice and speed (dialogue); null inherits the project's.
    voice = models.CharField(max_length=MAX_VOICE_LENGTH, null=True, blank=True, default=None)
    speed = models.FloatField(
        null=True, blank=True, default=None,
        validators=[MinValueValidator(MIN_TTS_SPEED), MaxValueValidator(MAX_TTS_SPEED)],
    )
    #: SHA-256 of what the audio was made from (api/services/narration.py ``audio_identity``);
    #: "" for audio made before identities were recorded. Written with ``audio_file``.
    audio_identity = models.CharField(max_length=64, blank=True, default="")
    #: The identity's inputs, for people: spoken-text hash, rules, voice, speed, model variant, engine version.
    audio_source = models.JSONField(null=True, blank=True, default=None)
    #: Version of the segment's editable state (its ETag, ``api/services/preconditions.py``): every
    #: ``save()`` of an existing segment adds 1 in the database (``version = version + 1``); writes of
    #: the audio fields alone (``.update()`` by generation) leave it as it is.
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ["sequence_index", "id"]
        indexes = [models.Index(fields=["project", "sequence_index"])]

    def __str__(self) -> str:
        return f"#{self.sequence_index} {self.text_content[:40]}"

    def save(self, *args, **kwargs):
        """Save; saving an existing segment also bumps ``version``.

        The increment is done by the database (``UPDATE ... SET version = version + 1``,
        the first statement of the save's transaction), so two saves never produce
        the same version even from instances loaded at the same version; the new
        value is read back in that transaction and written by the save. A save
        limited to ``update_fields`` that names no field a client can edit leaves
        the version alone.
        """
        update_fields = kwargs.get("update_fields")
        if self._state.adding or (update_fields is not None and not set(update_fields) & VERSIONED_SEGMENT_FIELDS):
            return super().save(*args, **kwargs)
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version"}
        using = kwargs.get("using") or router.db_for_write(Segment, instance=self)
        with transaction.atomic(using=using):
            rows = Segment.objects.using(using).filter(pk=self.pk)
            if rows.update(version=models.F("version") + 1):
                self.version = rows.values_list("version", flat=True).get()
            return super().save(*args, **kwargs)

    @property
    def has_audio(self) -> bool:
        """True when the segment points at a generated WAV."""
        return bool(self.audio_file)


class PronunciationRule(models.Model):
    """A project's pronunciation: ``pattern`` (a word or phrase, matched on word boundaries,
    case-insensitively unless ``case_sensitive``) is read as ``replacement``, a respelling
    ("Dahn-tess") or phonemes written ``/.../`` (see ``core_engine/lexicon.py``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pronunciation_rules")
    pattern = models.CharField(max_length=MAX_PATTERN_LENGTH)
    replacement = models.CharField(max_length=MAX_REPLACEMENT_LENGTH)
    case_sensitive = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "pattern", "case_sensitive"], name="one_rule_per_pattern")
        ]

    def __str__(self) -> str:
        return f"{self.pattern} → {self.replacement}"

    @property
    def kind(self) -> str:
        """``"phonemes"`` (``/.../``) or ``"respelling"``."""
        return replacement_kind(self.replacement)

    def as_lexicon_rule(self) -> LexiconRule:
        """The rule as the engine uses it (keyed by its id)."""
        return LexiconRule(str(self.id), self.pattern, self.replacement, self.case_sensitive)


class GlobalSettings(models.Model):
    """The single row of studio-wide TTS settings (voice and speed).

    Read it with :meth:`load`, which creates the row with defaults on first use.
    """

    default_voice_id = models.CharField(max_length=MAX_VOICE_LENGTH, default=DEFAULT_VOICE_ID)
    tts_speed = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(MIN_TTS_SPEED), MaxValueValidator(MAX_TTS_SPEED)],
    )

    class Meta:
        verbose_name = "global settings"
        verbose_name_plural = "global settings"

    def __str__(self) -> str:
        return f"voice={self.default_voice_id} speed={self.tts_speed}"

    def save(self, *args, **kwargs):
        """Always save as the one row (pk=1)."""
        self.pk = 1
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        """The settings row cannot be deleted; this is a no-op."""
        return (0, {})

    @classmethod
    def load(cls) -> "GlobalSettings":
        """Return the settings row, creating it with defaults if missing."""
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


# ---------------------------------------------------------------- task journal
#
# The TaskManager's in-memory registry is the live source of truth; these tables
# are its write-behind journal (api/tasks/journal.py). They let a finished task's
# status be answered after the in-memory cleanup (TASK_RETENTION_SECONDS) and let
# PENDING/PROCESSING tasks resume under the same id after a restart. There are no
# foreign keys on purpose: a task's journal outlives a deleted project or segment
# until retention expires, and the writer thread never races a cascade.


class TaskRecord(models.Model):
    """The journaled state of one background task (one row per task id).

    ``state`` holds the parts of the status body that are not columns:
    ``{"progress": {...}, "task_errors": [...], "current_step": str,
    "audio_seconds": float, "chars_total": int, "chars_finished": int,
    "work_seconds": float, "work_chars": int}``. Per-segment results live in
    :class:`TaskSegmentResult`, written in the same transaction as the segment's
    audio pointer so that a resumed batch neither loses nor repeats a segment.
    """

    task_id = models.CharField(max_length=120, primary_key=True)
    kind = models.CharField(max_length=10)  # "segment" | "batch" | "task"
    project_id = models.UUIDField(null=True, blank=True, db_index=True)
    segment_id = models.UUIDField(null=True, blank=True)
    segment_ids = models.JSONField(default=list)
    voice_id = models.CharField(max_length=MAX_VOICE_LENGTH, blank=True, default="")
    speed = models.FloatField(default=1.0)
    status = models.CharField(max_length=12, db_index=True)
    stage = models.CharField(max_length=12, default="queued")
    state = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.task_id} {self.status}"


class TaskSegmentResult(models.Model):
    """One segment's outcome within a task: ``audio_url`` and ``duration`` (seconds), or ``error``."""

    task_id = models.CharField(max_length=120, db_index=True)
    segment_id = models.UUIDField()
    audio_url = models.CharField(max_length=500, null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["task_id", "segment_id"], name="one_result_per_task_segment")]


class TaskLogEntry(models.Model):
    """A timestamped log line of a task (``GET /api/tasks/{id}/logs/``)."""

    task_id = models.CharField(max_length=120, db_index=True)
    timestamp = models.DateTimeField()
    level = models.CharField(max_length=10)
    message = models.TextField()

    class Meta:
        ordering = ["id"]


class SynthesisSpeedProfile(models.Model):
    """Learned synthesis speed for one voice and speed factor, for ETAs (api/tasks/eta.py).

    ``chars`` and ``seconds`` are exponentially decayed sums over finished tasks
    (characters narrated, wall seconds spent including preparing and writing);
    ``chars_per_second = chars / seconds``.
    """

    voice_id = models.CharField(max_length=MAX_VOICE_LENGTH)
    speed = models.FloatField()
    chars = models.FloatField(default=0.0)
    seconds = models.FloatField(default=0.0)
    samples = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["voice_id", "speed"], name="one_profile_per_voice_speed")]

    @property
    def chars_per_second(self) -> float | None:
        """Characters per wall second, or None before any sample."""
        return self.chars / self.seconds if self.seconds > 0 else None


# ------------------------------------------------------------------- exports


class Export(models.Model):
    """One finished audiobook file of a project (``media/projects/{id}/exports/``).

    A row exists only for an export whose files were all written (they are
    renamed into place before the row is created), so a cancelled or failed
    export leaves neither. Paths are relative to ``MEDIA_ROOT``.

    - ``format``: ``m4b`` | ``mp3`` | ``wav`` | ``acx`` (a zip of one MP3 per chapter).
    - ``duration``: seconds of audio; ``size_bytes``: size of the main file.
    - ``chapters``: ``[{"title": str, "start": s, "end": s}]`` in the book's time.
    - ``report``: the ACX check of each written file (``acx`` only), else null.
    """

    FORMAT_CHOICES = [("m4b", "M4B (AAC, chapters)"), ("mp3", "MP3"), ("wav", "WAV"), ("acx", "ACX (zip of MP3s)")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=8, choices=FORMAT_CHOICES)
    file_path = models.CharField(max_length=500)
    srt_path = models.CharField(max_length=500, blank=True, default="")
    vtt_path = models.CharField(max_length=500, blank=True, default="")
    size_bytes = models.BigIntegerField(default=0)
    duration = models.FloatField(default=0.0)
    chapters = models.JSONField(default=list)
    report = models.JSONField(null=True, blank=True, default=None)
    task_id = models.CharField(max_length=120, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.project} ({self.format}, {self.duration:.0f} s)"

    def file_paths(self) -> list[str]:
        """Every file of the export, relative to ``MEDIA_ROOT`` (main file first)."""
        return [p for p in (self.file_path, self.srt_path, self.vtt_path) if p]
