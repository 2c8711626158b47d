@archive @use.with_explicit_archive_window=true @allure.label.epic:Community_archives @allure.label.story:Channels_and_keys
Feature: Archives hold only what was asked for, and only key holders can open them
  As the owner of a Status community
  I want archives to cover the channels I choose, encrypted when my community is private
  So that history reaches exactly the members entitled to it

  A private community lets in the holders of its token; holding the token is what gives a
  member the community's key.

  @use.with_storage_access=true
  Scenario: Messages on other channels are not archived
    Given Alice owns the community "Builders" with the channels #general and #random
    And Bob has joined "Builders"
    And Alice says "on topic" in #general at 10:00
    And Alice says "off topic" in #random at 10:00:10
    When Alice archives the history of #general from 09:59 to 10:01 in 2-minute partitions
    Then exactly one archive is created
    And the archives of "Builders" cover these windows:
      | from     | to       | messages |
      | 09:59:00 | 10:01:00 | 1        |
    When Alice publishes the archive index of "Builders"
    Then Bob sees "on topic" in #general after importing within 20 seconds
    And Bob does not see "off topic" in #random

  @critical @use.with_emulated_chain=true
  Scenario: A member holding the key imports an encrypted community's archive
    Given Alice owns the encrypted community "Vault" with a #general channel
    And Bob has joined "Vault" and holds the community key
    And Alice says "secret plans" in #general at 10:00
    When Alice archives the history of #general from 09:59 to 10:01 in 2-minute partitions
    Then exactly one archive is created
    When Alice publishes the archive index of "Vault"
    Then Bob sees "secret plans" in #general after importing within 20 seconds

  @use.with_emulated_chain=true
  Scenario: A member without the key imports once the key arrives
    Given Alice owns the encrypted community "Vault" with a #general channel
    And Bob has joined "Vault"
    And Alice says "secret plans" in #general at 10:00
    And Alice archives the history of #general from 09:59 to 10:01 in 2-minute partitions
    When Alice publishes the archive index of "Vault"
    Then for 3 seconds Bob imports no archive of "Vault"
    When Alice gives Bob the key of "Vault"
    And Alice publishes the archive index of "Vault" again
    Then Bob sees "secret plans" in #general after importing within 20 seconds
