"""Django admin: projects with their segments and pronunciation rules inline, a searchable segment
list, the lexicon, the settings row."""
from django import forms
from django.contrib import admin

from api.models import Export, GlobalSettings, Project, PronunciationRule, Segment
from core_engine.lexicon import InvalidRule, clean_pattern, clean_replacement
from core_engine.model_loader import KokoroModelLoader


class SegmentInline(admin.TabularInline):
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
class ProjectAdmin(admin.ModelAdmin):
    """Projects, newest first, with their segments inline."""

    list_display = ["title", "author", "segment_total", "created_at", "updated_at"]
    search_fields = ["title", "author"]
    fields = ["title", "author", "voice", "speed", "paragraph_pause", "chapter_pause", "lead_in", "tail"]
    inlines = [PronunciationRuleInline, SegmentInline]

    @admin.display(description="segments")
    def segment_total(self, project: Project) -> int:
        return project.segments.count()


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
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
class GlobalSettingsAdmin(admin.ModelAdmin):
    """The single settings row: editable, never added twice or deleted."""

    list_display = ["default_voice_id", "tts_speed"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        """Offer the installed model's voices as a choice list (free text when none are installed)."""
        voices = KokoroModelLoader.get_voices()
        if db_field.name == "default_voice_id" and voices:
            return forms.ChoiceField(choices=[(v, v) for v in voices], label="Default voice")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_add_permission(self, request) -> bool:
        return not GlobalSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
