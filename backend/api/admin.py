"""Django admin: projects with their segments and pronunciation rules inline, a searchable segment
list, the lexicon, the settings row."""
from django import forms
from django.contrib import admin

from api.models import Export, GlobalSettings, Project, PronunciationRule, Segment
from api.services.errors import UnknownVoice
from api.services.narration import canonical_voice
from core_engine.lexicon import InvalidRule, clean_pattern, clean_replacement
from core_engine.model_loader import KokoroModelLoader


class VoiceFormField(forms.CharField):
    """A voice id or blend of the installed voices, checked and stored canonically (as the API does)."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, ""):
            return None if not self.required else value
        try:
            return canonical_voice(value)
        except UnknownVoice as exc:
            raise forms.ValidationError(exc.message) from None


class VoiceFieldsMixin:
    """Voice fields (``voice``, ``default_voice_id``) take a voice id or a blend such as
    ``jf_alpha:0.6+jm_kumo:0.4``; the installed voices are listed in the help text."""

    voice_fields = ("voice", "default_voice_id")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self.voice_fields:
            voices = ", ".join(KokoroModelLoader.get_voices()) or "none (run manage.py install_model)"
            inherit = "" if db_field.name == "default_voice_id" else " Empty inherits."
            return VoiceFormField(
                required=not db_field.null,
                max_length=db_field.max_length,
                label=db_field.verbose_name.capitalize(),
                help_text=f"A voice or a blend such as jf_alpha:0.6+jm_kumo:0.4.{inherit} Installed: {voices}.",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class SegmentInline(VoiceFieldsMixin, admin.TabularInline):
    """The project's segments in reading order."""

    model = Segment
    fields = ["sequence_index", "chapter_title", "text_content", "is_locked", "voice", "speed", "audio_file", "audio_duration"]
    readonly_fields = ["audio_file", "audio_duration"]
    ordering = ["sequence_index"]
    extra = 0


class PronunciationRuleForm(forms.ModelForm):
    """Checks pattern and replacement as the API does (``core_engine.lexicon``), naming the bad part."""

    class Meta:
        model = PronunciationRule
        fields = ["project", "pattern", "replacement", "case_sensitive"]

    def clean_pattern(self):
        return _checked(clean_pattern, self.cleaned_data["pattern"])

    def clean_replacement(self):
        return _checked(clean_replacement, self.cleaned_data["replacement"])


def _checked(check, value):
    try:
        return check(value)
    except InvalidRule as exc:
        raise forms.ValidationError(str(exc)) from None


class PronunciationRuleInline(admin.TabularInline):
    """The project's lexicon, checked as the API checks it."""

    model = PronunciationRule
    form = PronunciationRuleForm
    fields = ["pattern", "replacement", "case_sensitive"]
    extra = 0


@admin.register(Project)
class ProjectAdmin(VoiceFieldsMixin, admin.ModelAdmin):
    """Projects, newest first, with their segments inline."""

    list_display = ["title", "author", "segment_total", "created_at", "updated_at"]
    search_fields = ["title", "author"]
    fields = ["title", "author", "voice", "speed", "paragraph_pause", "chapter_pause", "lead_in", "tail"]
    inlines = [PronunciationRuleInline, SegmentInline]

    @admin.display(description="segments")
    def segment_total(self, project: Project) -> int:
        return project.segments.count()


@admin.register(Segment)
class SegmentAdmin(VoiceFieldsMixin, admin.ModelAdmin):
    """All segments: project, sequence, locked, has-audio and duration; searchable by text."""

    list_display = ["short_text", "project", "sequence_index", "chapter_title", "is_locked", "has_audio", "audio_duration"]
    list_filter = ["is_locked", "project"]
    search_fields = ["text_content", "chapter_title"]
    list_select_related = ["project"]
    ordering = ["project", "sequence_index"]
    readonly_fields = ["audio_file", "audio_duration", "audio_cues", "audio_identity", "audio_source"]

    @admin.display(description="text")
    def short_text(self, segment: Segment) -> str:
        return segment.text_content[:80]

    @admin.display(boolean=True, description="has audio")
    def has_audio(self, segment: Segment) -> bool:
        return segment.has_audio


@admin.register(PronunciationRule)
class PronunciationRuleAdmin(admin.ModelAdmin):
    """Every project's pronunciation rules, searchable by pattern and replacement."""

    form = PronunciationRuleForm
    list_display = ["pattern", "replacement", "kind", "case_sensitive", "project", "updated_at"]
    list_filter = ["case_sensitive", "project"]
    search_fields = ["pattern", "replacement"]
    list_select_related = ["project"]


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    """Finished exports (read-only: they are made by export tasks; deleting one removes its files)."""

    list_display = ["project", "format", "duration", "size_bytes", "created_at"]
    list_filter = ["format"]
    readonly_fields = [f.name for f in Export._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(GlobalSettings)
class GlobalSettingsAdmin(VoiceFieldsMixin, admin.ModelAdmin):
    """The single settings row: editable, never added twice or deleted."""

    list_display = ["default_voice_id", "tts_speed"]


    def has_add_permission(self, request) -> bool:
        return not GlobalSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
