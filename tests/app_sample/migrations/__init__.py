"""The sample application's revisions: the ``app_sample`` branch, after the core's."""
