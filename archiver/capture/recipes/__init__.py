"""Per-platform recipes for the shared capture script; `recipe_for` picks one by register platform."""

from __future__ import annotations

from archiver.capture.recipes import facebook, generic, instagram, linkedin, tiktok, x, youtube
from archiver.capture.recipes.base import Recipe

RECIPES: dict[str, Recipe] = {
    module.RECIPE.platform: module.RECIPE
    for module in (facebook, generic, instagram, linkedin, tiktok, x, youtube)
}


def recipe_for(platform: str) -> Recipe:
    return RECIPES.get(platform, generic.RECIPE)


__all__ = ["RECIPES", "Recipe", "recipe_for"]
