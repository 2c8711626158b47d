@archive @allure.label.epic:Community_archives @allure.label.story:Periodic_archives
Feature: The owner's node archives the community's history on its own, interval after interval
  As a member of a Status community
  I want the owner's node to archive new messages regularly and tell the members
  So that whatever I missed while away or before joining reaches me

  Alice's node packs the messages of each interval into an archive, adds it to the community's
  archive index on her storage node and announces the index to the members; members fetch and
  import what they lack a second after they start. These scenarios use only what a real
  status-backend offers. A member online when a message is sent receives it at once, so history
  is checked on members who were not there to receive it.

  Background:
    Given Alice's node archives every 3 seconds

  @critical
  Scenario: The periodic archive appears after the interval
    Given Alice owns the community "Builders" with a #design channel
    And Alice holds no archive of "Builders"
    When Alice says "hello" in #design
    Then Alice's node archives the history of "Builders" within 10 seconds
    And that archive came no sooner than one interval after "Builders" was created
    And Alice holds the archive index of "Builders"

  Scenario: No archive comes without messages
    Given Alice owns the community "Builders" with a #design channel
    Then for 8 seconds Alice's node archives nothing of "Builders"
    And Alice holds no archive of "Builders"

  Scenario: Messages in several intervals give several archives
    Given Alice owns the community "Builders" with a #design channel
    And Bob has joined "Builders"
    When Alice says "first" in #design
    Then Alice's node archives the history of "Builders" within 10 seconds
    And Bob has downloaded 1 archive of "Builders" within 20 seconds
    When Alice says "second" in #design
    Then Alice's node archives the history of "Builders" within 10 seconds
    And Bob has downloaded 2 archives of "Builders" within 20 seconds

  @critical
  Scenario: A member who joins later imports the history
    Given Alice owns the community "Builders" with a #design channel
    And Alice says "first idea" in #design
    And Alice's node archives the history of "Builders" within 10 seconds
    And Alice says "second idea" in #design
    And Alice's node archives the history of "Builders" within 10 seconds
    When Bob joins "Builders"
    Then Bob sees "first idea" in #design after importing within 30 seconds
    And Bob sees "second idea" in #design after importing within 30 seconds

  Scenario: A member who logs out and back in still gets the archives
    Given Alice owns the community "Builders" with a #design channel
    And Bob has joined "Builders"
    When Bob logs out
    And Alice says "while you were away" in #design
    And Alice's node archives the history of "Builders" within 10 seconds
    And Bob logs back in
    Then Bob sees "while you were away" in #design after importing within 30 seconds

  Scenario: The default general channel is archived
    Given Alice owns the community "Lobby"
    And Alice says "welcome" in #general
    And Alice's node archives the history of "Lobby" within 10 seconds
    When Bob joins "Lobby"
    Then Bob sees "welcome" in #general after importing within 30 seconds
