"""Which documented behaviour each conformance check verifies (pure data, no I/O).

Every check of the suite names, in :data:`CHECKS` and only there, the behaviours it is
based on, by key: the key is the number of the section of the project's research notes on
Artifactory's wire behaviour (``artifactory-rest-api.md``) or on MLflow's contract for
plugins (``mlflow-artifact-repository.md``); those notes are not part of the distribution,
so keys stay internal. What a report prints (:meth:`Reference.describe`) leads with the
title of the page of JFrog's REST API documentation that describes the endpoint, then what
the check verifies. The plugin shows it with every failure and writes it to the JSON
report, so someone reading a failure against a real server knows what was expected and
where JFrog documents it.

A check outside this table (a user's own test module run with the plugin) can name its
sections with the ``reference`` marker: ``@pytest.mark.reference("3.3", "11")``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CHECKS", "REST_DOC", "MLFLOW_DOC", "SECTIONS", "Reference", "describe", "resolve"]

REST_DOC = "artifactory-rest-api.md"
MLFLOW_DOC = "mlflow-artifact-repository.md"


@dataclass(frozen=True, slots=True)
class Reference:
    """One documented section: where it is written and what it is called."""

    doc: str  # reference document, "" when only JFrog's documentation describes it
    section: str  # section number in ``doc`` ("" for an unnumbered heading)
    title: str  # heading in ``doc`` (or the subject, when ``doc`` is "")
    jfrog: str = ""  # heading of JFrog's REST API documentation page, when there is one

    def describe(self) -> str:
        """``JFrog REST API "File Info" (Storage API: errors)``; without a JFrog page, the
        kind of behaviour: ``Artifactory behaviour (401 vs 403)``, ``MLflow
        artifact-repository contract (...)``.  Section numbers are internal keys only."""
        if self.jfrog:
            return f'JFrog REST API "{self.jfrog}" ({self.title})'
        if self.doc == MLFLOW_DOC:
            return f"MLflow artifact-repository contract ({self.title})"
        return f"Artifactory behaviour ({self.title})"


def _rest(section: str, title: str, jfrog: str = "") -> Reference:
    return Reference(REST_DOC, section, title, jfrog)


def _mlflow(section: str, title: str) -> Reference:
    return Reference(MLFLOW_DOC, section, title)


#: Section key -> reference. Keys are the section numbers of ``artifactory-rest-api.md``;
#: ``mlflow:...`` keys are headings of ``mlflow-artifact-repository.md``; ``jfrog:...``
#: keys are JFrog documentation pages the project reference only mentions.
SECTIONS: dict[str, Reference] = {
    "1": _rest("1", "Deploy artifact: request headers", "Deploy Artifact"),
    "1.1": _rest("1.1", "Deploy artifact: success (201, ItemCreated body)", "Deploy Artifact"),
    "1.2": _rest("1.2", "Checksum deploy", "Deploy Artifact by Checksum"),
    "1.3": _rest("1.3", "Checksum mismatch on normal deploy", "Deploy Artifact"),
    "1.4": _rest("1.4", "Matrix parameters (properties on deploy)", "Deploy Artifact"),
    "1.5": _rest("1.5", "Other deploy failures", "Deploy Artifact"),
    "2.1": _rest("2.1", "Retrieve artifact: success headers (file)", "Retrieve Artifact"),
    "2.2": _rest("2.2", "Range requests", "Retrieve Artifact"),
    "2.3": _rest("2.3", "Retrieve artifact: folders and errors", "Retrieve Artifact"),
    "3.1": _rest("3.1", "Storage API: file info", "File Info"),
    "3.2": _rest("3.2", "Storage API: folder info (incl. repo root)", "Folder Info"),
    "3.3": _rest("3.3", "Storage API: errors", "File Info"),
    "4": _rest("4", "File list", "File List"),
    "5": _rest("5", "Delete", "Delete Item"),
    "6": _rest("6", "Create directory", "Create Directory"),
    "10.2": _rest("10.2", "401 vs 403"),
    "10.3": _rest("10.3", "GET /api/system/ping", "System Health Ping"),
    "10.4": _rest("10.4", "GET /api/system/version", "Version and Add-ons information"),
    "11": _rest("11", "Error body format", "Error Responses"),
    "12": _rest("12", "Path rules, encoding, decoding"),
    "7": _rest("7", "Copy and move", "Copy Item"),
    "8.1": _rest("8.1", "Get properties", "Get Item Properties"),
    "8.5": _rest("8.5", "Property search", "Property Search"),
    "9": _rest("9", "AQL", "AQL Execution"),
    "10": _rest("10", "Authentication, system and repository endpoints"),
    "10.5": _rest("10.5", "Repositories", "Get Repository Configuration"),
    "13": _rest("13", "Upload size and transfer encoding"),
    "jfrog:explode": Reference(
        "", "", "X-Explode-Archive(-Atomic) headers, Pro", "Deploy Artifacts from Archive"
    ),
    "jfrog:folder-archive": Reference(
        "",
        "",
        "GET /api/archive/download/{repo}/{folder}?archiveType=, Pro, admin setting",
        "Retrieve Folder or Repository Archive",
    ),
    "jfrog:security": Reference(
        "", "", "users, groups and permission targets (admin, Pro)", "Security Configuration JSON"
    ),
    "jfrog:projects": Reference("", "", "projects of the Access API", "Get Project"),
    "jfrog:virtual": Reference(
        "", "", "reads, deploys and deletes through a virtual repository", "Virtual Repositories"
    ),
    "mlflow:methods": _mlflow("1", "Methods a plugin must or can implement"),
    "mlflow:download": _mlflow("1", "How download_artifacts works"),
    "mlflow:list": _mlflow("1", "What list_artifacts must return"),
    "mlflow:checklist": _mlflow("8", "Checklist for the new plugin"),
}

#: Check (test function name in ``conformance/test_*.py``) -> the sections it verifies.
CHECKS: dict[str, tuple[str, ...]] = {
    # test_http.py
    "test_deploy_answers_201_with_the_item_created_body": ("1.1",),
    "test_overwrite_is_201_and_replaces_the_content": ("1.1",),
    "test_empty_put_without_slash_creates_an_empty_file": ("6", "3.1"),
    "test_deploy_below_a_file_is_400": ("1.5", "11"),
    "test_folder_creation_is_201_and_idempotent": ("6", "3.2"),
    "test_folder_survives_deleting_its_last_file": ("5", "3.2"),
    "test_folder_get_without_slash_redirects_and_with_slash_is_html": ("2.3",),
    "test_download_and_head_carry_the_checksum_headers": ("2.1",),
    "test_a_range_header_without_equals_is_ignored": ("2.2",),
    "test_single_byte_range_is_206": ("2.2",),
    "test_multiple_byte_ranges_are_multipart": ("2.2",),
    "test_unsatisfiable_range_is_416": ("2.2",),
    "test_any_range_of_an_empty_file_is_416": ("2.2",),
    "test_missing_file_download_is_404_file_not_found": ("2.3", "11"),
    "test_missing_item_info_is_404_unable_to_find_item": ("3.3", "11"),
    "test_file_info_has_string_size_and_storage_uri": ("3.1",),
    "test_ping_answers_ok_without_credentials": ("10.3",),
    "test_version_reports_a_version_string": ("10.4",),
    "test_anonymous_deploy_is_401_with_the_basic_challenge": ("10.2", "11"),
    "test_unknown_bearer_token_is_401": ("10.2", "11"),
    "test_unknown_api_key_header_is_403_not_401": ("10.2", "11"),
    "test_a_literal_semicolon_starts_matrix_parameters": ("1.4", "12"),
    "test_a_raw_plus_in_the_path_is_a_literal_plus": ("12",),
    "test_invalid_names_are_rejected_and_not_stored": ("12", "1.5"),
    "test_checksum_suffix_uploads_a_checksum_and_is_not_stored": ("1.5",),
    "test_checksum_upload_for_a_missing_sibling_is_404": ("1.5",),
    # test_listing.py
    "test_folder_info_children_match_the_model_at_every_level": ("3.2",),
    "test_folder_info_of_a_folder_reports_its_path": ("3.2",),
    "test_folder_info_of_the_repository_root_has_path_slash": ("3.2",),
    "test_deep_file_list_matches_the_model": ("4",),
    "test_shallow_file_list_has_direct_children_only": ("4",),
    "test_include_root_path_adds_exactly_the_folder_itself": ("4",),
    "test_file_list_of_a_subfolder_is_relative_to_it": ("4",),
    "test_file_list_of_a_missing_folder_is_404": ("4",),
    # test_delete.py
    "test_deleting_a_file_keeps_its_siblings_and_parents": ("5",),
    "test_deleting_a_folder_removes_exactly_its_subtree": ("5",),
    "test_deleting_with_a_trailing_slash_deletes_the_folder": ("5",),
    "test_deleting_a_missing_path_is_404": ("5", "11"),
    "test_a_deleted_file_can_be_deployed_again": ("5", "1.1"),
    "test_a_deleted_folder_can_be_recreated_as_a_file": ("5", "3.1"),
    # test_roundtrip.py
    "test_hazardous_names_round_trip": ("12", "1.1", "3.1"),
    "test_hazardous_names_work_as_folders": ("12", "1.1", "3.2"),
    "test_deeply_nested_path_round_trips": ("12", "1.1", "3.1"),
    "test_generated_paths_round_trip": ("12", "1.1", "3.1"),
    # test_checksums.py
    "test_checksum_mismatch_is_409_and_stores_nothing": ("1.3", "11"),
    "test_checksum_mismatch_on_overwrite_keeps_the_old_content": ("1.3",),
    "test_matching_checksums_are_accepted_and_echoed": ("1", "1.1"),
    "test_original_checksums_echo_only_what_was_sent": ("1.1",),
    "test_checksum_deploy_of_known_content_is_201_without_a_body": ("1.2",),
    "test_checksum_deploy_of_unknown_content_is_404": ("1.2", "11"),
    "test_checksum_deploy_with_only_md5_is_404": ("1.2",),
    # test_stateful.py
    "test_random_operations_keep_the_repository_equal_to_the_model": ("1.1", "3.2", "4", "5"),
    "test_random_operations_agree_with_folder_info_walks": ("1.1", "3.2", "5", "6"),
    # test_archives.py
    "test_explode_deploys_every_entry_relative_to_the_archive_folder": ("jfrog:explode", "1"),
    "test_explode_overwrites_existing_files": ("jfrog:explode",),
    "test_explode_refuses_an_entry_escaping_the_folder": ("jfrog:explode", "12"),
    "test_folder_download_when_disabled_is_403_with_an_error_envelope": (
        "jfrog:folder-archive",
        "11",
    ),
    "test_folder_archive_holds_the_folder_files_named_relative_to_it": ("jfrog:folder-archive",),
    "test_folder_archive_of_a_missing_folder_is_404": ("jfrog:folder-archive",),
    "test_folder_archive_of_a_file_is_refused": ("jfrog:folder-archive",),
    # test_fidelity.py
    "test_fidelity_checksum_file_sha256": ("2.1", "1.5"),
    "test_fidelity_checksum_file_sha1_missing": ("2.3", "1.5"),
    "test_fidelity_file_over_folder": ("1.5",),
    "test_fidelity_invalid_path": ("12", "1.5"),
    "test_fidelity_unknown_repo_download": ("2.3", "11"),
    "test_fidelity_unknown_repo_deploy": ("1.5", "11"),
    "test_fidelity_matrix_params_on_get": ("1.4", "2.3"),
    "test_fidelity_mime_types": ("3.1", "2.1"),
    "test_fidelity_range_suffix": ("2.2",),
    "test_fidelity_folder_index_page": ("2.3",),
    "test_fidelity_explode_status": ("jfrog:explode",),
    "test_fidelity_explode_unsupported_extension": ("jfrog:explode",),
    "test_fidelity_explode_on_oss": ("jfrog:explode", "11"),
    "test_fidelity_empty_segments": ("12", "1.1"),
    "test_fidelity_long_name": ("12", "1.5"),
    "test_fidelity_override_base_url": ("1.1",),
    "test_fidelity_unread_chunked_body": ("13", "10.2"),
    # test_fidelity_rest.py
    "test_fidelity_accept_not_acceptable": ("3.3", "11"),
    "test_fidelity_accept_vendor_mismatch": ("3.3", "11"),
    "test_fidelity_properties_missing_item": ("8.1", "11"),
    "test_fidelity_prop_search_no_criterion": ("8.5",),
    "test_fidelity_aql_query_length": ("9",),
    "test_fidelity_aql_parse_error": ("9",),
    "test_fidelity_aql_anonymous": ("9", "10.2"),
    "test_fidelity_aql_catch_all_property": ("9",),
    "test_fidelity_aql_relative_time": ("9",),
    "test_fidelity_aql_virtual_repo": ("9", "jfrog:virtual"),
    "test_fidelity_copy_result_message": ("7",),
    "test_fidelity_identity_headers": ("10.4",),
    "test_fidelity_usage_report": ("10",),
    "test_fidelity_repository_config_missing": ("10.5",),
    "test_fidelity_security_user_missing": ("jfrog:security", "11"),
    "test_fidelity_security_group_missing": ("jfrog:security", "11"),
    "test_fidelity_permission_target_missing": ("jfrog:security", "11"),
    "test_fidelity_encrypted_password": ("jfrog:security", "10"),
    "test_fidelity_project_missing": ("jfrog:projects",),
    "test_fidelity_virtual_read": ("jfrog:virtual", "3.1"),
    "test_fidelity_virtual_delete": ("jfrog:virtual", "5"),
    "test_fidelity_virtual_deploy_repo": ("jfrog:virtual", "1.5", "1.1"),
    "test_fidelity_access_token_revoke_unknown": ("10",),
    "test_fidelity_folder_download_archive_headers": ("jfrog:folder-archive",),
    "test_fidelity_folder_download_default_type": ("jfrog:folder-archive",),
    "test_fidelity_folder_download_anonymous": ("jfrog:folder-archive", "10.2"),
    # test_plugin.py, test_plugin_archives.py
    "test_log_then_download_round_trips_trees": ("mlflow:methods", "mlflow:download"),
    "test_list_artifacts_gives_sorted_direct_children": ("mlflow:list",),
    "test_list_artifacts_of_a_file_or_missing_path_is_empty": ("mlflow:list",),
    "test_list_artifacts_of_a_fresh_root_is_empty": ("mlflow:list",),
    "test_delete_artifacts_of_a_file_keeps_the_rest": ("mlflow:methods",),
    "test_delete_artifacts_of_a_folder_removes_it": ("mlflow:methods",),
    "test_delete_artifacts_of_a_missing_path_is_a_no_op": ("mlflow:methods",),
    "test_download_of_a_single_file_is_byte_exact": ("mlflow:download",),
    "test_many_small_files_round_trip_with_archive_features": (
        "mlflow:checklist",
        "jfrog:explode",
        "jfrog:folder-archive",
    ),
}


def resolve(keys: Iterable[str]) -> list[Reference]:
    """The references of section ``keys``; KeyError naming the first unknown key."""
    out = []
    for key in keys:
        if key not in SECTIONS:
            raise KeyError(f"unknown reference section {key!r} (known: {', '.join(SECTIONS)})")
        out.append(SECTIONS[key])
    return out


def describe(keys: Iterable[str]) -> str:
    """One line naming every section of ``keys`` (``""`` for none)."""
    return "; ".join(ref.describe() for ref in resolve(keys))
