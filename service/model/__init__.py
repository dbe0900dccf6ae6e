"""The served model: scoring one bundle, the registry of served versions, reloading."""
