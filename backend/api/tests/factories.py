"""factory_boy factories for StoryFlow's models."""
import factory

from api.models import Project, Segment


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
