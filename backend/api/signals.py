"""Keep media/ in step with the database: deleting a segment, export or project deletes its files.

Signals (not ``perform_destroy``) so that deletes from the API, the admin,
bulk queryset deletes and cascades all clean up. Files go only after the
transaction commits, so a rolled-back delete never loses audio.
"""
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from api.models import Export, Project, Segment
from api.services.media_files import delete_project_media, delete_segment_audio


@receiver(post_delete, sender=Segment, dispatch_uid="storyflow_segment_audio_cleanup")
def delete_audio_of_deleted_segment(sender, instance: Segment, **kwargs) -> None:
    """Remove the deleted segment's WAV once the delete commits."""
    project_id, segment_id, audio_url = instance.project_id, instance.id, instance.audio_file
    transaction.on_commit(lambda: delete_segment_audio(project_id, segment_id, audio_url))


@receiver(post_delete, sender=Project, dispatch_uid="storyflow_project_media_cleanup")
def delete_media_of_deleted_project(sender, instance: Project, **kwargs) -> None:
    """Remove ``media/projects/{id}/`` once the project's delete commits."""
    project_id = instance.id
    transaction.on_commit(lambda: delete_project_media(project_id))


@receiver(post_delete, sender=Export, dispatch_uid="storyflow_export_files_cleanup")
def delete_files_of_deleted_export(sender, instance: Export, **kwargs) -> None:
    """Remove the deleted export's audio and caption files once the delete commits."""
    from api.services.audiobook_export import delete_export_files

    paths = instance.file_paths()
    transaction.on_commit(lambda: delete_export_files(paths))
