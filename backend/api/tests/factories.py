"""factory_boy factories for StoryFlow's models."""
import factory

from api.models import Project, PronunciationRule, Segment


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    title = factory.Sequence(lambda n: f"Story {n}")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    project = factory.SubFactory(ProjectFactory)
    sequence_index = factory.Sequence(lambda n: n)
    text_content = factory.Faker("sentence", nb_words=8)
    is_locked = False


class PronunciationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PronunciationRule

    project = factory.SubFactory(ProjectFactory)
    pattern = factory.Sequence(lambda n: f"Name{n}")
    replacement = "Nayme"
    case_sensitive = False
