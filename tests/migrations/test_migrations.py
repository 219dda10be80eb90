"""Migrations go up, down and up again, and match the models exactly."""

from __future__ import annotations

import secrets
from decimal import Decimal

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from migrations.security import include_object
from tests.conftest import ROOT, _admin_exec, _services, _with_database
from webapp.models import Base


@pytest.fixture
def scratch_db():
    """A throwaway database on the test server."""
    name = f"cl_mig_{secrets.token_hex(4)}"
    server = _services["server_url"]
    _admin_exec(server, f'CREATE DATABASE "{name}"')
    yield _with_database(server, name)
    _admin_exec(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["skip_logging"] = True
    return config


async def _public_tables(url: str) -> set[str]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


async def test_upgrade_downgrade_upgrade_and_no_drift(scratch_db):
    config = _config(scratch_db)
    await _run(command.upgrade, config, "head")
    tables = await _public_tables(scratch_db)
    assert {"users", "auth_sessions", "organizations", "memberships", "system_checks", "audit_logs"} <= tables
    assert any(t.startswith("audit_logs_p") for t in tables), "monthly audit partitions were not created"

    await _run(command.downgrade, config, "base")
    assert await _public_tables(scratch_db) == {"alembic_version"}

    await _run(command.upgrade, config, "head")
    diff = await _diff_models(scratch_db)
    assert diff == [], f"models and migrations differ: {diff}"


async def _run(fn, *args):
    """Alembic's env.py calls asyncio.run(), so run it off the event loop's thread."""
    import asyncio

    await asyncio.to_thread(fn, *args)


async def _diff_models(url: str) -> list:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync_conn: compare_metadata(
                MigrationContext.configure(sync_conn, opts={"include_object": include_object, "compare_type": True}),
                Base.metadata,
            )
        )
    await engine.dispose()
    return diff


async def test_simulation_products_of_0007_become_a_plan_by_day(scratch_db):
    """0008: a run's one row per recipe and product (dated when it finished) becomes planned rows on the days
    its plan schedules the batches, with the same total; a hand-recorded product stays recorded."""
    from sqlalchemy.ext.asyncio import create_async_engine

    config = _config(scratch_db)
    await _run(command.upgrade, config, "0007")
    engine = create_async_engine(scratch_db)
    snapshot = (
        '{"start_date": "2031-03-01", "recipes": [{"id": "0190f0f0-0000-7000-8000-0000000000aa", '
        '"key": "sinter", "inputs": {"regolith": 5}, "outputs": {"brick": 2.5}}]}'
    )
    results = '{"days": 4, "batches": {"sinter": [1, 0, 2, 0.5]}}'
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO organizations (id, slug, name) VALUES ('0190f0f0-0000-7000-8000-000000000001', 'o', 'O');"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO missions (id, organization_id, name, destination, crew_size) VALUES "
                "('0190f0f0-0000-7000-8000-000000000002', '0190f0f0-0000-7000-8000-000000000001', 'M', 'moon', 4);"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO processing_modules (id, organization_id, key, name, module_type, throughput_kg_h, "
                "power_kw, hours_per_day) VALUES ('0190f0f0-0000-7000-8000-0000000000bb', "
                "'0190f0f0-0000-7000-8000-000000000001', "
                "'press', 'Press', 'sinter', 1, 1, 8);"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO processing_recipes (id, organization_id, key, name, module_id, duration_h, energy_kwh, "
                "crew_h) "
                "VALUES ('0190f0f0-0000-7000-8000-0000000000aa', '0190f0f0-0000-7000-8000-000000000001', 'sinter', "
                "'Sinter', '0190f0f0-0000-7000-8000-0000000000bb', 1, 1, 0);"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO simulation_runs (id, organization_id, mission_id, name, run_type, status, config, "
                "input_snapshot, engine_version, seed, progress_percent, results, finished_at) VALUES "
                "('0190f0f0-0000-7000-8000-000000000003', '0190f0f0-0000-7000-8000-000000000001', "
                "'0190f0f0-0000-7000-8000-000000000002', 'Plan', 'mass_balance', 'succeeded', '{}', "
                f"'{snapshot}', '1', 1, 100, '{results}', '2031-03-05T10:00:00Z');"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO products (id, organization_id, mission_id, product_type, quantity_kg, recipe_id, source, "
                "simulation_run_id, produced_at) VALUES ('0190f0f0-0000-7000-8000-000000000004', "
                "'0190f0f0-0000-7000-8000-000000000001', '0190f0f0-0000-7000-8000-000000000002', 'brick', 8.75, "
                "'0190f0f0-0000-7000-8000-0000000000aa', 'simulation', '0190f0f0-0000-7000-8000-000000000003', "
                "'2031-03-05T10:00:00Z'), ('0190f0f0-0000-7000-8000-000000000005', "
                "'0190f0f0-0000-7000-8000-000000000001', '0190f0f0-0000-7000-8000-000000000002', 'brick', 1.5, NULL, "
                "'manual', NULL, '2031-03-02T08:00:00Z');"
            )
        )
    await engine.dispose()

    await _run(command.upgrade, config, "0008")
    engine = create_async_engine(scratch_db)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT kind::text, quantity_kg, produced_at::date::text FROM products ORDER BY kind, produced_at")
            )
        ).all()
    await engine.dispose()
    assert [(k, float(q), d) for k, q, d in rows] == [
        ("planned", 2.5, "2031-03-01"),
        ("planned", 5.0, "2031-03-03"),
        ("planned", 1.25, "2031-03-04"),
        ("recorded", 1.5, "2031-03-02"),
    ]

    await _run(command.downgrade, config, "0007")  # and back: the plan folds into one row again
    engine = create_async_engine(scratch_db)
    async with engine.connect() as conn:
        folded = (await conn.execute(text("SELECT source::text, quantity_kg FROM products ORDER BY source"))).all()
    await engine.dispose()
    assert [(s, float(q)) for s, q in folded] == [("manual", 1.5), ("simulation", 8.75)]


async def test_0034_gives_existing_reference_recipes_their_blends(scratch_db):
    """0034: an organization's reference trash tile takes any mix with at least 20 % of its plastics (those lines
    marked), its plastics shredding any mix; a trash tile edited to take none of those plastics keeps its fixed mix,
    and a recipe of the organization's own is left alone."""
    from sqlalchemy.ext.asyncio import create_async_engine

    config = _config(scratch_db)
    await _run(command.upgrade, config, "0033")
    engine = create_async_engine(scratch_db)
    org, edited_org = "0190f0f0-0000-7000-8000-000000000001", "0190f0f0-0000-7000-8000-000000000002"
    statements = []
    for o, suffix in ((org, "1"), (edited_org, "2")):
        statements += [
            f"INSERT INTO organizations (id, slug, name) VALUES ('{o}', 'o{suffix}', 'O{suffix}')",
            "INSERT INTO processing_modules (id, organization_id, key, reference_key, name, module_type, "
            f"throughput_kg_h, power_kw, hours_per_day) VALUES ('0190f0f0-0000-7000-8000-0000000000b{suffix}', '{o}', "
            "'hmc', 'hmc', 'HMC', 'hmc', 1, 1, 8)",
        ]
        for n, key in enumerate(("food_packaging", "misc_plastics", "paper", "textiles")):
            statements.append(
                "INSERT INTO waste_materials (id, organization_id, key, reference_key, name, category, density_kg_m3, "
                f"generation_kg_per_cm_day) VALUES ('0190f0f0-0000-7000-8000-00000000{suffix}0{n}0', '{o}', '{key}', "
                f"'{key}', '{key}', 'paper', 100, 0.1)"
            )
        for r, (key, ref) in enumerate(
            (("hmc_trash_tile", "hmc_trash_tile"), ("own_mix", None), ("shred", "shred_plastics"))
        ):
            statements.append(
                "INSERT INTO processing_recipes (id, organization_id, key, reference_key, name, module_id, duration_h, "
                f"energy_kwh, crew_h) VALUES ('0190f0f0-0000-7000-8000-00000000{suffix}{r}00', '{o}', '{key}', "
                f"{'NULL' if ref is None else repr(ref)}, '{key}', "
                f"'0190f0f0-0000-7000-8000-0000000000b{suffix}', 1, 1, 0)"
            )
    # the first organization's trash tile takes packaging, plastic parts and paper; the second's only paper and textiles
    lines = {org: ("0", "1", "2"), edited_org: ("2", "3")}
    for o, suffix in ((org, "1"), (edited_org, "2")):
        for recipe in ("0", "1"):
            for i, material in enumerate(lines[o]):
                statements.append(
                    "INSERT INTO recipe_lines (id, organization_id, recipe_id, direction, material_id, kg, position) "
                    f"VALUES (gen_random_uuid(), '{o}', '0190f0f0-0000-7000-8000-00000000{suffix}{recipe}00', 'input', "
                    f"'0190f0f0-0000-7000-8000-00000000{suffix}0{material}0', 1, {i})"
                )
            statements.append(  # mass closes (a deferred check)
                "INSERT INTO recipe_lines (id, organization_id, recipe_id, direction, resource, kg, position) "
                f"VALUES (gen_random_uuid(), '{o}', '0190f0f0-0000-7000-8000-00000000{suffix}{recipe}00', 'output', "
                f"'loss', {len(lines[o])}, 9)"
            )
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await _run(command.upgrade, config, "head")
    async with engine.connect() as conn:
        shares = dict(
            (
                await conn.execute(
                    text("SELECT organization_id::text || ':' || key, blend_min_share FROM processing_recipes")
                )
            ).all()
        )
        grouped = {
            row[0]
            for row in await conn.execute(
                text(
                    "SELECT r.organization_id::text || ':' || r.key || ':' || m.key FROM recipe_lines l "
                    "JOIN processing_recipes r ON r.id = l.recipe_id JOIN waste_materials m ON m.id = l.material_id "
                    "WHERE l.blend_group"
                )
            )
        }
    await engine.dispose()
    assert shares[f"{org}:hmc_trash_tile"] == Decimal("0.2") and shares[f"{org}:shred"] == 0
    assert grouped == {f"{org}:hmc_trash_tile:food_packaging", f"{org}:hmc_trash_tile:misc_plastics"}
    assert shares[f"{edited_org}:hmc_trash_tile"] is None  # no plastics left in it: its fixed mix stands
    assert shares[f"{org}:own_mix"] is None and shares[f"{edited_org}:own_mix"] is None


async def test_0035_gives_existing_reference_modules_the_catalogs_spares_and_consumables(scratch_db):
    """0035: an organization's reference modules get the reference catalog's spares and consumables, labelled as
    estimates beside the provenance they had; a module of the organization's own is left blank (none known)."""
    import importlib

    from sqlalchemy.ext.asyncio import create_async_engine

    from webapp.catalog.reference import reference_catalog

    migration = importlib.import_module("migrations.versions.2026-12-06_module_spares_and_consumables")
    catalog = {m["key"]: m for m in reference_catalog()["modules"]}
    # the migration's copy of the estimates is the catalog's, so new and existing organizations start alike
    assert {
        key: (float(m["spares_kg_per_repair"]), float(m["consumables_kg_per_h"])) for key, m in catalog.items()
    } == migration.REFERENCE
    config = _config(scratch_db)
    await _run(command.upgrade, config, "0034")
    engine = create_async_engine(scratch_db)
    org = "0190f0f0-0000-7000-8000-000000000003"
    async with engine.begin() as conn:
        await conn.execute(text(f"INSERT INTO organizations (id, slug, name) VALUES ('{org}', 'o3', 'O3')"))
        for n, (key, reference) in enumerate((("hmc", "hmc"), ("own_press", None))):
            await conn.execute(
                text(
                    "INSERT INTO processing_modules (id, organization_id, key, reference_key, name, module_type, "
                    "throughput_kg_h, power_kw, hours_per_day, provenance) VALUES "
                    f"('0190f0f0-0000-7000-8000-0000000000c{n}', '{org}', :key, :reference, :key, 'hmc', 1, 1, 8, "
                    """'{"power_kw": {"basis": "sourced", "ref": "HMC-Gen2"}}')"""
                ),
                {"key": key, "reference": reference},
            )
    await _run(command.upgrade, config, "head")
    async with engine.connect() as conn:
        rows = {
            row.key: row
            for row in await conn.execute(
                text("SELECT key, spares_kg_per_repair, consumables_kg_per_h, provenance FROM processing_modules")
            )
        }
    await engine.dispose()
    hmc, own = rows["hmc"], rows["own_press"]
    assert (hmc.spares_kg_per_repair, hmc.consumables_kg_per_h) == (Decimal("2.000"), Decimal("0.0100"))
    assert hmc.provenance["spares_kg_per_repair"]["basis"] == "estimate"
    assert hmc.provenance["power_kw"] == {"basis": "sourced", "ref": "HMC-Gen2"}  # kept
    assert own.spares_kg_per_repair is None and own.consumables_kg_per_h is None
    assert "spares_kg_per_repair" not in own.provenance
