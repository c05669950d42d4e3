# One fragment per owner, so that parallel work does not collide.
include tests/unit/core.mk
include tests/unit/proto.mk
include tests/unit/policy.mk
include tests/unit/engines.mk
include tests/unit/compat.mk
