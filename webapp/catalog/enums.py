"""Catalog vocabularies: material categories, module types and statuses, resources recipes move, provenance."""

from enum import StrEnum


class MaterialCategory(StrEnum):
    """What kind of waste a material is (habitat.md §4.1)."""

    PACKAGING = "packaging"
    FOOD = "food"
    HYGIENE = "hygiene"
    PAPER = "paper"
    TEXTILE = "textile"
    FOAM = "foam"
    PLASTIC = "plastic"
    METABOLIC = "metabolic"
    BRINE = "brine"
    METAL = "metal"
    OTHER = "other"


class ModuleType(StrEnum):
    """The kind of equipment (habitat.md §4.2)."""

    HMC = "hmc"
    SHREDDER = "shredder"
    EXTRUDER = "extruder"
    PRESS = "press"
    SINTER = "sinter"
    REFORMER = "reformer"
    BRINE_PROCESSOR = "brine_processor"
    O2_ISRU = "o2_isru"
    OTHER = "other"

    @property
    def destinations(self) -> frozenset[str]:
        """Where this kind of equipment can work: MOXIE-class O₂ ISRU splits CO₂ from the air, which only Mars has."""
        return frozenset({"mars"}) if self is ModuleType.O2_ISRU else frozenset({"moon", "mars"})


def module_types_for(destination: str | None) -> list[ModuleType]:
    """The module types that can work at a mission's destination (every type when it is not known)."""
    return [t for t in ModuleType if destination is None or str(destination) in t.destinations]


class ModuleStatus(StrEnum):
    """Operating state; only operational and degraded modules run recipes."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    FAILED = "failed"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"

    @property
    def available(self) -> bool:
        """Whether the module can run recipes in this state."""
        return self in (ModuleStatus.OPERATIONAL, ModuleStatus.DEGRADED)


class MaintenanceKind(StrEnum):
    """An entry of a module's maintenance log."""

    STATUS_CHANGE = "status_change"
    INSPECTION = "inspection"
    PREVENTIVE = "preventive"
    REPAIR = "repair"
    FAILURE = "failure"
    NOTE = "note"


class Resource(StrEnum):
    """Things recipes consume or make besides catalog waste materials: in-situ feedstock, intermediates,
    products, and the `loss` sink (vented gas, ash, unrecovered moisture) that closes the mass balance."""

    REGOLITH = "regolith"
    PLASTIC_FLAKES = "plastic_flakes"
    HMC_TILE = "hmc_tile"
    FOAM_BLOCK = "foam_block"
    FILAMENT = "filament"
    BRICK = "brick"
    INSULATION = "insulation"
    WATER = "water"
    METHANE = "methane"
    OXYGEN = "oxygen"
    BRINE_RESIDUE = "brine_residue"  # what a brine processor leaves: stored waste, not a product
    LOSS = "loss"
    CARBON_DIOXIDE = "carbon_dioxide"
    HYDROGEN = "hydrogen"

    @property
    def label(self) -> str:
        """Human name."""
        return {"hmc_tile": "HMC tile"}.get(self.value, self.value.replace("_", " ").capitalize())

    @property
    def is_product(self) -> bool:
        """Whether a mission can record it as a product (regolith is feedstock, loss is not a thing, brine residue
        is waste kept in storage)."""
        return self not in (Resource.REGOLITH, Resource.LOSS, Resource.BRINE_RESIDUE)


PRODUCT_TYPES = tuple(r for r in Resource if r.is_product)


class Sink(StrEnum):
    """Where the water, gases and propellant recipes make go (engine/sinks.py): each with the mission's capacity and
    drain a day (`<sink>_capacity_kg`, `<sink>_drain_kg_per_day`; propellant storage only fills)."""

    WATER_RECOVERY = "water_recovery"
    AIR_SYSTEM = "air_system"
    PROPELLANT = "propellant"

    @property
    def label(self) -> str:
        """Human name."""
        return {"water_recovery": "Water recovery", "air_system": "Air system", "propellant": "Propellant storage"}[
            self.value
        ]

    @property
    def resources(self) -> tuple[Resource, ...]:
        """What it takes: recovered water goes to the water processor, oxygen and CO₂ to air revitalisation, methane
        and hydrogen to the propellant tanks."""
        return {
            "water_recovery": (Resource.WATER,),
            "air_system": (Resource.OXYGEN, Resource.CARBON_DIOXIDE),
            "propellant": (Resource.METHANE, Resource.HYDROGEN),
        }[self.value]

    @property
    def drains(self) -> bool:
        """Whether it passes anything on day by day (propellant storage only fills)."""
        return self is not Sink.PROPELLANT


class LineDirection(StrEnum):
    """Whether a recipe line is consumed or made."""

    INPUT = "input"
    OUTPUT = "output"


class Basis(StrEnum):
    """Where a catalog number comes from (DESIGN §7.8): sourced needs a reference."""

    SOURCED = "sourced"
    DERIVED = "derived"
    ESTIMATE = "estimate"

    @property
    def letter(self) -> str:
        """The badge: S, D or E (as in habitat.md)."""
        return self.value[0].upper()
