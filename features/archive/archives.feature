@archive @use.with_explicit_archive_window=true @allure.label.epic:Community_archives @allure.label.story:Archive_creation_and_import
Feature: A community's history is archived on Codex and imported by its members
  As a member who joins a Status community
  I want the messages sent before I joined to reach me through history archives
  So that I can read the community's past conversations

  The owner packs the stored messages of its channels into archives, one per time window,
  uploads every archive and then an index of them to its Codex node, and tells the members
  where the index is. Each member fetches the index and the archives it lacks through its own
  Codex node and imports the messages. All times are on one day (UTC): these messages are from
  the past, so they reach members only through archives.

  Background:
    Given Alice owns the community "Builders" with a #general channel
    And Bob has joined "Builders"

  @critical @use.with_storage_access=true
  Scenario: One message, one archive, imported by a member
    Given Alice says "hello" in #general at 10:00
    When Alice archives the history of #general from 09:59 to 10:01 in 2-minute partitions
    Then exactly one archive is created
    And the archives of "Builders" cover these windows:
      | from     | to       | messages |
      | 09:59:00 | 10:01:00 | 1        |
    When Alice publishes the archive index of "Builders"
    Then Bob sees "hello" in #general after importing within 20 seconds

  Scenario Outline: Archives follow the time windows: <case>
    Given Alice says "first" in #general at <first>
    And Alice says "second" in #general at <second>
    When Alice archives the history of #general from <start> to <end> in <length>-minute partitions
    Then <count> archives are created

    Examples:
      | case                                        | first    | second   | start      | end        | length | count |
      | a range shorter than a partition            | 10:00    | 10:01    | 09:59      | 10:02      | 10     | 1     |
      | a partition that does not divide the range  | 10:00:30 | 10:05    | 10:00      | 10:07      | 3      | 2     |
      | a message exactly on a window edge          | 10:00    | 10:02    | 10:00      | 10:04      | 2      | 2     |
      | sub-second bounds truncated to whole seconds | 10:00:00 | 10:00:59 | 09:59:59.9 | 10:01:00.7 | 1      | 2     |

  @use.with_storage_access=true
  Scenario: Windows are cut at whole seconds and the last one is shorter
    Given Alice says "first" in #general at 10:00:30
    And Alice says "second" in #general at 10:05
    When Alice archives the history of #general from 10:00 to 10:07 in 3-minute partitions
    Then the archives of "Builders" cover these windows:
      | from     | to       | messages |
      | 10:00:00 | 10:03:00 | 1        |
      | 10:03:00 | 10:06:00 | 1        |

  Scenario: An empty range gives no archive
    Given Alice says "hello" in #general at 10:00
    When Alice archives the history of #general from 11:00 to 11:05 in 2-minute partitions
    Then no archive is created
    And Alice is told that no archives were created for "Builders"

  Scenario: A second run later adds to the index and members fetch only what is new
    Given Alice says "hello" in #general at 10:00
    And Alice archives the history of #general from 09:59 to 10:01 in 2-minute partitions
    And Alice publishes the archive index of "Builders"
    And Bob has imported 1 archive of "Builders" within 20 seconds
    When Alice says "again" in #general at 10:02
    And Alice archives the history of #general from 10:01 to 10:03 in 2-minute partitions
    And Alice publishes the archive index of "Builders"
    Then Bob sees "again" in #general after importing within 20 seconds
    And Bob has imported 2 archives of "Builders" within 20 seconds
    And Bob downloads only the new archive of "Builders"
