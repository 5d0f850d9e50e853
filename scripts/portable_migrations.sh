#!/bin/bash
# Generated migrations name Wagtail 8 only names (settings.WAGTAIL_PAGE_MODEL, wagtailcore
# 0098). Rewrite them to work on Wagtail 7.4 as well: run after makemigrations.
# make generated migrations work on Wagtail 7.4 (no WAGTAIL_PAGE_MODEL, no 0098)
for f in "$@"; do
  sed -i "s/('wagtailcore', '0098_apitoken')/('wagtailcore', '0097_baselogentry_uuid_action_timestamp_indexes')/; s/migrations.swappable_dependency(settings.WAGTAIL_PAGE_MODEL)/migrations.swappable_dependency(swapper.get_model_name('wagtailcore', 'Page'))/; s/to=settings.WAGTAIL_PAGE_MODEL/to=swapper.get_model_name('wagtailcore', 'Page')/g" "$f"
  grep -q "^import swapper" "$f" || sed -i "0,/^from django.db import/s//import swapper\nfrom django.db import/" "$f"
done
