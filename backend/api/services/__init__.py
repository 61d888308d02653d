"""Business logic (HackSoft Django-Styleguide): views and serializers stay thin and call these."""
