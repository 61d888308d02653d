"""DRF serializers: the JSON shapes of projects, segments, settings, import and generation options.

Fields are strict about JSON types: a number where text is expected, or a
string where a boolean is expected, is a 400 with field errors rather than a
silent conversion (DRF's own fields accept ``123`` as text and ``"yes"`` as true).
"""
import math

from django.db.models import Max
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.models import (
    MAX_CHAPTER_TITLE_LENGTH,
    MAX_PAUSE_SECONDS,
    MAX_SEGMENT_TEXT_LENGTH,
    MAX_TTS_SPEED,
    MAX_VOICE_LENGTH,
    MIN_TTS_SPEED,
    GlobalSettings,
    Project,
    PronunciationRule,
    Segment,
)
from api.schema import ChapterResponse
from api.services.errors import UnknownVoice
from api.services.manuscript_import import MAX_UPLOAD_BYTES, ManuscriptError, check_extension, check_size
from api.services.narration import NarrationContext, canonical_voice
from api.services.preconditions import segment_etag
from core_engine.lexicon import InvalidRule, clean_pattern, clean_replacement


class StrictCharField(serializers.CharField):
    """A CharField that accepts only JSON strings."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A boolean accepting JSON ``true``/``false`` and the strings ``"true"``/``"false"`` (any case)."""

    default_error_messages = {"invalid": 'Must be a boolean: true or false (or the strings "true"/"false").'}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data.lower() in ("true", "false"):
            return data.lower() == "true"
        self.fail("invalid")


#: Largest value an integer column holds on every database Django supports (a 32-bit signed
#: ``IntegerField``/``PositiveIntegerField``); SQLite itself would raise OverflowError past 2**63 - 1.
MAX_DB_INTEGER = 2_147_483_647


class StrictIntegerField(serializers.IntegerField):
    """An IntegerField that accepts only JSON integers (not strings, floats or booleans),
    at most ``MAX_DB_INTEGER`` unless a lower ``max_value`` is given (a larger one is a 400
    field error, never the database's OverflowError)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", MAX_DB_INTEGER)
        kwargs.setdefault("min_value", -MAX_DB_INTEGER - 1)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A FloatField that accepts only finite JSON numbers (not strings or booleans); an integer
    too large for a float (10**400) is a 400 field error, not an OverflowError."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        try:
            value = float(data)
        except OverflowError:
            self.fail("invalid")
        if not math.isfinite(value):
            self.fail("invalid")
        return super().to_internal_value(value)


class VoiceField(StrictCharField):
    """A voice id or a blend ``"jf_alpha:0.6+jm_kumo:0.4"`` of installed voices, stored canonically.

    400 with a message naming the problem: an unknown voice, a weight that is not a
    positive number, more than 5 voices, or no voices installed.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", MAX_VOICE_LENGTH)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return canonical_voice(value)
        except UnknownVoice as exc:
            raise serializers.ValidationError(exc.message) from None


def speed_field(**kwargs) -> StrictFloatField:
    """A speed factor 0.5–2.0 (kokoro-onnx's range)."""
    return StrictFloatField(min_value=MIN_TTS_SPEED, max_value=MAX_TTS_SPEED, **kwargs)


def narration_context(serializer, project_id) -> NarrationContext:
    """The ``NarrationContext`` of a project, built once per serialization (cached in the root's context)."""
    contexts = serializer.context.setdefault("narration", {})
    context = contexts.get(project_id)
    if context is None:
        settings_obj = contexts.get("settings") or GlobalSettings.load()
        contexts["settings"] = settings_obj
        context = NarrationContext.for_project(Project.objects.get(pk=project_id), settings_obj)
        contexts[project_id] = context
    return context


class SegmentSerializer(serializers.ModelSerializer):
    """A segment. ``audio_file`` (URL path or null) and ``audio_duration`` (seconds) are read-only.

    On create, ``sequence_index`` defaults to the end of the project. A
    segment's ``project`` cannot change after creation.
    """

    text_content = StrictCharField(
        allow_blank=True,
        required=False,
        trim_whitespace=False,
        max_length=MAX_SEGMENT_TEXT_LENGTH,
        error_messages={"max_length": f"Text is limited to {MAX_SEGMENT_TEXT_LENGTH} characters; split the segment."},
    )
    is_locked = StrictBooleanField(required=False)
    sequence_index = StrictIntegerField(required=False, min_value=0)
    chapter_title = StrictCharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=MAX_CHAPTER_TITLE_LENGTH,
        help_text="Set to start a chapter with this title at this segment; null or \"\" to unmark.",
    )
    cues = serializers.SerializerMethodField(help_text='Sentence timings in this segment\'s audio: [{"start", "end", "text"}], seconds.')
    voice = VoiceField(required=False, allow_null=True, help_text="Voice or blend of this segment; null inherits the project's.")
    speed = speed_field(required=False, allow_null=True, help_text="Speed factor 0.5–2.0; null inherits the project's.")
    audio_stale = serializers.SerializerMethodField(
        help_text="True when the audio was made from other text, voice, speed, pronunciation rules or model."
    )
    etag = serializers.SerializerMethodField(
        help_text='The segment\'s ETag ("v<version>"), as in the ETag header: send it as If-Match to write only if '
        "nobody changed the segment since (else 412)."
    )

    class Meta:
        model = Segment
        fields = [
            "id", "project", "sequence_index", "text_content", "is_locked", "audio_file", "audio_duration",
            "chapter_title", "cues", "voice", "speed", "audio_stale", "etag",
        ]
        read_only_fields = ["id", "audio_file", "audio_duration", "cues", "audio_stale", "etag"]

    def get_etag(self, segment) -> str:
        """See ``api.services.preconditions.segment_etag``."""
        return segment_etag(segment)

    def get_audio_stale(self, segment) -> bool:
        """See ``NarrationContext.is_stale``."""
        if not segment.audio_file or not segment.audio_identity:
            return False
        return narration_context(self, segment.project_id).is_stale(segment)

    def get_cues(self, segment) -> list[dict]:
        """The sentence cues of the current audio; [] when there is no audio (or it predates cues)."""
        return list(segment.audio_cues or []) if segment.audio_file else []

    def validate_chapter_title(self, value):
        """A blank title unmarks the chapter start (stored as null); surrounding spaces are dropped."""
        if value is None:
            return None
        value = value.strip()
        return value or None

    def validate_project(self, project):
        if self.instance is not None and project != self.instance.project:
            raise serializers.ValidationError("A segment cannot move to another project.")
        return project

    def create(self, validated_data):
        if "sequence_index" not in validated_data:
            last = validated_data["project"].segments.aggregate(last=Max("sequence_index"))["last"]
            validated_data["sequence_index"] = 0 if last is None else last + 1
        return super().create(validated_data)

    def update(self, instance, validated_data):
        """Write only the fields whose value changes (and so bump ``version`` only for a real change);
        the audio fields that generation may have written meanwhile are never written back."""
        changed = [name for name, value in validated_data.items() if getattr(instance, name) != value]
        for name in changed:
            setattr(instance, name, validated_data[name])
        instance.save(update_fields=changed)  # [] saves nothing
        return instance


class ProjectSerializer(serializers.ModelSerializer):
    """A project in lists: no segments, but their count and the audio seconds generated so far."""

    title = StrictCharField(max_length=255)
    author = StrictCharField(max_length=255, required=False, allow_blank=True)
    paragraph_pause = StrictFloatField(required=False, min_value=0.0, max_value=MAX_PAUSE_SECONDS)
    chapter_pause = StrictFloatField(required=False, min_value=0.0, max_value=MAX_PAUSE_SECONDS)
    lead_in = StrictFloatField(required=False, min_value=0.0, max_value=MAX_PAUSE_SECONDS)
    tail = StrictFloatField(required=False, min_value=0.0, max_value=MAX_PAUSE_SECONDS)
    voice = VoiceField(required=False, allow_null=True, help_text="Voice or blend; null inherits GlobalSettings.default_voice_id.")
    speed = speed_field(required=False, allow_null=True, help_text="Speed factor 0.5–2.0; null inherits GlobalSettings.tts_speed.")
    segment_count = serializers.IntegerField(read_only=True)
    total_audio_duration = serializers.FloatField(read_only=True)

    class Meta:
        model = Project
        fields = [
            "id", "title", "author", "created_at", "updated_at", "segment_count", "total_audio_duration",
            "paragraph_pause", "chapter_pause", "lead_in", "tail", "voice", "speed",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def to_representation(self, instance):
        if not hasattr(instance, "segment_count"):  # a fresh instance, not from the annotated queryset
            instance = Project.objects.with_audio_totals().get(pk=instance.pk)
        return super().to_representation(instance)


class ProjectDetailSerializer(ProjectSerializer):
    """A project with its segments ordered by ``sequence_index`` and its chapters.

    ``chapters``: ``[{"title", "segment_id", "sequence_index"}]``, one per segment
    with a chapter title, in reading order.
    """

    segments = serializers.SerializerMethodField()
    chapters = serializers.SerializerMethodField()

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "segments", "chapters"]

    def _ordered_segments(self, project) -> list[Segment]:
        cache = getattr(self, "_segments_cache", None)
        if cache is None or cache[0] != project.pk:
            cache = (project.pk, list(project.segments.order_by("sequence_index", "id")))
            self._segments_cache = cache
        return cache[1]

    @extend_schema_field(SegmentSerializer(many=True))
    def get_segments(self, project):
        context = {"narration": {project.pk: NarrationContext.for_project(project)}}
        return SegmentSerializer(self._ordered_segments(project), many=True, context=context).data

    @extend_schema_field(ChapterResponse(many=True))
    def get_chapters(self, project) -> list[dict]:
        return [
            {"title": segment.chapter_title, "segment_id": str(segment.id), "sequence_index": segment.sequence_index}
            for segment in self._ordered_segments(project)
            if segment.chapter_title
        ]


class StoryImportSerializer(serializers.Serializer):
    """JSON body of ``POST /api/projects/import/``: ``{"title": str, "text": str}``."""

    title = StrictCharField(max_length=255)
    text = StrictCharField(trim_whitespace=False, max_length=2_000_000)


class ManuscriptUploadSerializer(serializers.Serializer):
    """Multipart body of ``POST /api/projects/import/``: ``file`` (.txt, .md or .epub, at most
    ``MAX_UPLOAD_BYTES`` = 50 MB) and an optional ``title`` (default: the manuscript's own title).

    Only the name, extension and size are checked here; the content is checked by
    :func:`api.services.manuscript_import.parse_manuscript`.
    """

    file = serializers.FileField(
        allow_empty_file=False,
        error_messages={"required": "No file was sent: post the manuscript as the multipart field `file`."},
    )
    title = StrictCharField(max_length=255, required=False, allow_blank=True)

    def validate_file(self, upload):
        try:
            check_extension(upload.name or "")
            check_size(upload.size if upload.size is not None else MAX_UPLOAD_BYTES + 1)
        except ManuscriptError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return upload

    def error_message(self) -> str:
        """The validation errors as one sentence for ``{"error": ...}`` (call after ``is_valid()`` is False)."""
        messages = []
        for name, errors in self.errors.items():
            for error in errors if isinstance(errors, list) else [errors]:
                messages.append(str(error) if name == "file" else f"{name}: {error}")
        return " ".join(messages)


class GenerateAllOptionsSerializer(serializers.Serializer):
    """Body of ``POST /api/projects/{id}/generate-all-audio/``; both options optional."""

    skip_locked = StrictBooleanField(required=False, default=True)
    force_regenerate = StrictBooleanField(required=False, default=False)


class ExportOptionsSerializer(serializers.Serializer):
    """Body of ``POST /api/projects/{id}/export/``: ``{"format": "m4b"|"mp3"|"wav"|"acx", "generate_missing": false}``.

    The format is checked by the export service (400 naming the formats).
    """

    format = StrictCharField(max_length=10)
    generate_missing = StrictBooleanField(required=False, default=False)


class GlobalSettingsSerializer(serializers.ModelSerializer):
    """``{"default_voice_id": str, "tts_speed": float}``; the voice (or blend) must be installed, speed 0.5–2.0."""

    default_voice_id = VoiceField()
    tts_speed = speed_field()

    class Meta:
        model = GlobalSettings
        fields = ["default_voice_id", "tts_speed"]


class PronunciationRuleSerializer(serializers.ModelSerializer):
    """A lexicon rule: ``{"id", "project", "pattern", "replacement", "case_sensitive", "kind", "created_at", "updated_at"}``.

    ``project`` comes from the URL. ``pattern`` and ``replacement`` are checked by
    ``core_engine.lexicon`` (400 naming the bad part); a second rule for the same
    pattern (same case-sensitivity; case-insensitive patterns compared ignoring case) is a 400.
    """

    pattern = StrictCharField(trim_whitespace=False)
    replacement = StrictCharField(trim_whitespace=False)
    case_sensitive = StrictBooleanField(required=False)
    kind = serializers.CharField(read_only=True, help_text='"respelling" or "phonemes" (a replacement written /.../).')

    class Meta:
        model = PronunciationRule
        fields = ["id", "project", "pattern", "replacement", "case_sensitive", "kind", "created_at", "updated_at"]
        read_only_fields = ["id", "project", "kind", "created_at", "updated_at"]
        validators = []  # the unique pattern is checked in validate(), with a message that says what to do

    def validate_pattern(self, value):
        try:
            return clean_pattern(value)
        except InvalidRule as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_replacement(self, value):
        try:
            return clean_replacement(value)
        except InvalidRule as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs):
        project = self.context["project"]
        pattern = attrs.get("pattern", getattr(self.instance, "pattern", None))
        case_sensitive = attrs.get("case_sensitive", getattr(self.instance, "case_sensitive", False))
        others = PronunciationRule.objects.filter(project=project, case_sensitive=case_sensitive)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        # compared in Python: SQLite's case-insensitive match folds ASCII letters only
        fold = (lambda text: text) if case_sensitive else str.casefold
        if pattern is not None and any(fold(p) == fold(pattern) for p in others.values_list("pattern", flat=True)):
            raise serializers.ValidationError(
                {"pattern": [f"The project already has a rule for {pattern!r}; edit that rule instead."]}
            )
        return attrs


class SpeechPreviewSerializer(serializers.Serializer):
    """Body of ``POST /api/speech/preview/``: ``{"text", "project"?: id, "voice"?: id or blend}``."""

    text = StrictCharField(
        trim_whitespace=False,
        max_length=MAX_SEGMENT_TEXT_LENGTH,
        error_messages={"blank": "Give the text to preview."},
    )
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all(), required=False, allow_null=True)
    voice = VoiceField(required=False, allow_null=True)


#: Longest text a voice sample may read, characters (about 20 s of speech).
MAX_SAMPLE_TEXT_LENGTH = 300


class VoicePreviewSerializer(serializers.Serializer):
    """Body of ``POST /api/voices/preview/``: ``{"voice": id or blend, "speed"?: 0.5–2.0, "text"?: ≤ 300 characters}``."""

    voice = VoiceField()
    speed = speed_field(required=False, default=1.0)
    text = StrictCharField(required=False, max_length=MAX_SAMPLE_TEXT_LENGTH)
