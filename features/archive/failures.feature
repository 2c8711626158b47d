@archive @use.with_explicit_archive_window=true @allure.label.epic:Community_archives @allure.label.story:Archive_failures
Feature: Archive problems are contained and reported
  As a member of a Status community
  I want a broken, missing or cancelled archive download to cost me nothing else
  So that whatever history can reach me does

  Background:
    Given Alice owns the community "Builders" with a #general channel
    And Bob has joined "Builders"

  @use.with_storage_access=true
  Scenario: A message too large for any archive is dropped
    Given Alice says a 30 MiB message in #general at 10:00
    When Alice archives the history of #general from 09:59 to 10:01 in 2-minute partitions
    Then exactly one archive is created
    And the archives of "Builders" cover these windows:
      | from     | to       | messages |
      | 09:59:00 | 10:01:00 | 0        |

  @use.with_storage_access=true
  Scenario: A missing archive is reported while the others import
    Given Alice says "old news" in #general at 10:00
    And Alice says "fresh news" in #general at 10:03
    And Alice archives the history of #general from 09:59 to 10:05 in 2-minute partitions
    And the archive holding "old news" is lost from Alice's Codex node
    When Alice publishes the archive index of "Builders"
    Then Bob sees "fresh news" in #general after importing within 30 seconds
    And Bob finishes fetching the history of "Builders" with 1 of its 2 archives within 30 seconds
    And Bob does not see "old news" in #general

  @use.with_storage_access=true
  Scenario: A cancelled download leaves nothing half done
    Given Alice says "old plans" in #general at 10:00
    And Alice archives the history of #general from 09:59 to 10:01 in 2-minute partitions
    And Alice's storage node stops answering
    When Alice publishes the archive index of "Builders"
    And Bob logs out while the history of "Builders" is on its way
    Then Bob keeps no partial index file for "Builders"
    When Alice's storage node answers again
    And Bob logs back in
    Then Bob has marked no archive of "Builders" as imported
    When Alice publishes the archive index of "Builders" again
    Then Bob sees "old plans" in #general after importing within 30 seconds
